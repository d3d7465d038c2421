import doctest
import importlib.util
import os

import keras
import numpy as np
import pytest
import sacrebleu

from transformer_keras.optimization.losses import MaskedSparseCategoricalCrossentropy
from transformer_keras.optimization.metrics import MaskedAccuracy, Perplexity
from transformer_keras.optimization.optimizers import adamw
from transformer_keras.training.callbacks import (
    BleuCallback,
    TextSampleCallback,
    best_weights_path,
    default_callbacks,
)

TENSORBOARD_INSTALLED = importlib.util.find_spec("tensorboard") is not None
WORDS = ["<pad>", "the", "cat", "sat", "on", "mat", "dog", "ran"]


def copy_task(rng, count=32, length=6):
    """Token ids `(count, length)` with trailing padding; the target is the input."""
    ids = rng.integers(1, len(WORDS), size=(count, length))
    lengths = rng.integers(2, length + 1, size=count)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids, ids


def tiny_tagger():
    """Ids `(B, T)` -> logits `(B, T, V)`, compiled with the zoo's loss and metrics."""
    token_ids = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(len(WORDS), 16)(token_ids)
    model = keras.Model(token_ids, keras.layers.Dense(len(WORDS))(hidden))
    model.compile(
        optimizer=adamw(learning_rate=0.05),
        loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.1),
        metrics=[MaskedAccuracy(), Perplexity()],
    )
    return model


def to_sentences(model, ids):
    predicted = np.asarray(model.predict(ids, verbose=0)).argmax(-1)
    return [" ".join(WORDS[i] for i in row[source != 0]) for row, source in zip(predicted, ids)]


def test_a_run_with_every_callback_logs_bleu_samples_and_checkpoints(tmp_path, rng, capsys):
    model = tiny_tagger()
    inputs, targets = copy_task(rng)
    references = [" ".join(WORDS[i] for i in row if i) for row in inputs[:8]]
    hypotheses_seen = []

    def translate(sources):
        hypotheses_seen.append(to_sentences(model, inputs[:8]))
        assert sources == references
        return hypotheses_seen[-1]

    callbacks = [
        BleuCallback(translate, references, references),
        TextSampleCallback(lambda: ["first sample", "second sample"], every_n_epochs=2),
        *default_callbacks(str(tmp_path), monitor="val_bleu", early_stopping_patience=5),
    ]
    history = model.fit(
        inputs,
        targets,
        validation_data=(inputs, targets),
        epochs=3,
        batch_size=8,
        callbacks=callbacks,
        verbose=0,
    )

    assert len(history.history["val_bleu"]) == 3 and len(hypotheses_seen) == 3
    expected_bleu = sacrebleu.corpus_bleu(hypotheses_seen[-1], [references]).score
    assert history.history["val_bleu"][-1] == pytest.approx(expected_bleu)
    for name in (
        "loss",
        "masked_accuracy",
        "perplexity",
        "val_masked_accuracy",
        "val_perplexity",
    ):
        assert len(history.history[name]) == 3 and np.isfinite(history.history[name]).all()
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "sample after epoch 2: first sample",
        "sample after epoch 2: second sample",
    ]
    assert os.path.isfile(best_weights_path(str(tmp_path)))
    event_files = [
        name for _, _, files in os.walk(tmp_path) for name in files if "events" in name
    ]
    assert bool(event_files) == TENSORBOARD_INSTALLED  # tensorboard="auto"
    assert not (tmp_path / "backup").exists()  # the finished run deleted its backup
    keras.utils.set_random_seed(1)
    reloaded = tiny_tagger()
    reloaded.optimizer.build(reloaded.trainable_variables)
    reloaded.load_weights(best_weights_path(str(tmp_path)))  # the best epoch's weights load


def test_fit_metrics_equal_numpy_over_all_real_tokens(rng):
    """`evaluate` accumulates over batches with different numbers of real tokens."""
    model = tiny_tagger()
    inputs, targets = copy_task(rng, count=20)
    results = model.evaluate(inputs, targets, batch_size=6, return_dict=True, verbose=0)
    logits = np.asarray(model.predict(inputs, batch_size=6, verbose=0)).astype("float64")
    real = targets != 0
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_probabilities, targets[..., None], -1)[..., 0]
    np.testing.assert_allclose(
        results["perplexity"], np.exp(cross_entropy[real].mean()), rtol=1e-4
    )
    accuracy = (logits.argmax(-1) == targets)[real].mean()
    np.testing.assert_allclose(results["masked_accuracy"], accuracy, rtol=1e-6)


class InterruptAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


class RecordEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_an_interrupted_fit_resumes_from_the_backup(tmp_path, rng):
    inputs, targets = copy_task(rng, count=8)
    model = tiny_tagger()
    first = RecordEpochs()
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(
            inputs,
            targets,
            epochs=4,
            verbose=0,
            callbacks=[
                *default_callbacks(str(tmp_path), monitor="loss"),
                first,
                InterruptAtEpoch(2),
            ],
        )
    weights_after_two_epochs = [np.array(w) for w in model.weights]
    keras.utils.set_random_seed(7)
    restarted = tiny_tagger()  # a new process would rebuild the model from scratch
    second = RecordEpochs()

    class CheckRestoredWeights(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                for restored, saved in zip(self.model.weights, weights_after_two_epochs):
                    np.testing.assert_allclose(np.array(restored), saved)

    history = restarted.fit(
        inputs,
        targets,
        epochs=4,
        verbose=0,
        callbacks=[
            *default_callbacks(str(tmp_path), monitor="loss"),
            second,
            CheckRestoredWeights(),
        ],
    )
    assert first.epochs == [0, 1, 2] and second.epochs == [2, 3]
    assert len(history.history["loss"]) == 2


def test_default_callbacks_can_be_chosen(tmp_path):
    def names(**options):
        return [type(c).__name__ for c in default_callbacks(str(tmp_path), **options)]

    assert names(early_stopping_patience=2, tensorboard=False) == [
        "BackupAndRestore",
        "TerminateOnNaN",
        "BestWeightsCheckpoint",
        "EarlyStopping",
    ]
    assert ("TensorBoard" in names()) == TENSORBOARD_INSTALLED
    assert names(tensorboard=False, backup=False, checkpoint=False) == ["TerminateOnNaN"]
    stopping = default_callbacks(
        str(tmp_path), monitor="val_bleu", early_stopping_patience=3, tensorboard=False
    )[3]
    assert (stopping.mode, stopping.patience, stopping.restore_best_weights) == ("max", 3, True)


def test_the_best_checkpoint_waits_for_epochs_that_log_its_monitor(tmp_path, recwarn):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    checkpoint = default_callbacks(str(tmp_path), monitor="val_bleu", tensorboard=False)[2]
    checkpoint.set_model(model)
    path = tmp_path / "checkpoints" / "best.weights.h5"
    checkpoint.on_epoch_end(0, {"loss": 1.0})  # BLEU is computed every other epoch.
    assert not path.exists()
    checkpoint.on_epoch_end(1, {"loss": 0.9, "val_bleu": 20.0})
    assert path.exists() and checkpoint.best == 20.0
    checkpoint.on_epoch_end(2, {"loss": 0.8})
    checkpoint.on_epoch_end(3, {"loss": 0.7, "val_bleu": 10.0})  # Worse: kept 20.
    assert checkpoint.best == 20.0
    assert not [w for w in recwarn if "val_bleu" in str(w.message)]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: TextSampleCallback("not callable"), "Received: sample_fn='not callable'"),
        (lambda: TextSampleCallback(str, every_n_epochs=0), "Received: every_n_epochs=0"),
        (lambda: BleuCallback(list, [], []), r"Received: sources=\[\]"),
        (lambda: BleuCallback(list, ["a", "b"], ["a"]), r"Received: len\(references\)=1"),
        (
            lambda: default_callbacks("out", early_stopping_patience=0),
            "Received: early_stopping_patience=0",
        ),
    ],
)
def test_bad_callback_arguments_are_rejected(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.skipif(TENSORBOARD_INSTALLED, reason="tensorboard is installed")
def test_requiring_tensorboard_without_the_package_says_how_to_get_it(tmp_path):
    with pytest.raises(ValueError, match="pip install tensorboard.*Received: tensorboard=True"):
        default_callbacks(str(tmp_path), tensorboard=True)


def test_docstring_examples_run():
    from transformer_keras.training import callbacks

    assert doctest.testmod(callbacks).failed == 0
