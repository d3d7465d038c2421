"""Tests of the encoder-decoder `Transformer` (models/seq2seq.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import assert_outputs_close, run_model_test
from transformer_keras.models.seq2seq import MAX_BEAM_SIZE, Transformer
from transformer_keras.optimization import MaskedSparseCategoricalCrossentropy

SOURCE = np.array([[5, 6, 7, 8, 3, 0], [9, 10, 3, 0, 0, 0]], "int32")
TARGET = np.array([[2, 11, 12, 13, 0], [2, 14, 0, 0, 0]], "int32")
LABELS = np.array([[11, 12, 13, 3, 0], [14, 3, 0, 0, 0]], "int32")
INPUTS = {"source_ids": SOURCE, "target_ids": TARGET}


def tiny(**overrides):
    return Transformer.from_preset("tiny", source_vocabulary_size=24, **overrides)


def compiled_tiny(**overrides):
    model = tiny(**overrides)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.1),
    )
    return model


@pytest.mark.slow
@pytest.mark.jax
def test_harness(tmp_path):
    # Separate vocabularies and an untied projection: the widest configuration.
    run_model_test(
        lambda: compiled_tiny(target_vocabulary_size=30, tie_output_embedding=False),
        INPUTS,
        targets=LABELS,
        expected_output_shape=(2, 5, 30),
        mixed_output_dtype="float32",
        tmp_path=tmp_path,
    )


def test_logits_are_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    model = tiny()
    assert keras.backend.standardize_dtype(model(INPUTS).dtype) == "float32"


def test_presets_match_the_paper():
    base = Transformer.preset_config("base")
    assert (base["num_encoder_layers"], base["num_decoder_layers"]) == (6, 6)
    assert (base["hidden_dim"], base["num_heads"], base["intermediate_dim"]) == (512, 8, 2048)
    assert base["dropout"] == 0.1
    small = Transformer.preset_config("small")
    assert (small["num_encoder_layers"], small["hidden_dim"], small["intermediate_dim"]) == (
        3,
        256,
        512,
    )


def test_padding_does_not_change_logits():
    model = tiny()
    short = model({"source_ids": SOURCE[:, :5], "target_ids": TARGET[:, :4]})
    longer = model(
        {
            "source_ids": np.pad(SOURCE, [[0, 0], [0, 3]]),
            "target_ids": np.pad(TARGET, [[0, 0], [0, 2]]),
        }
    )
    real = TARGET[:, :4] != 0
    assert_outputs_close(np.asarray(longer)[:, :4][real], np.asarray(short)[real], atol=1e-5)


def test_decoder_is_causal():
    model = tiny()
    logits = np.asarray(model(INPUTS))
    changed = TARGET.copy()
    changed[0, 3] = 20
    changed_logits = np.asarray(model({"source_ids": SOURCE, "target_ids": changed}))
    assert_outputs_close(changed_logits[0, :3], logits[0, :3], atol=1e-5)
    assert not np.allclose(changed_logits[0, 3], logits[0, 3])


def test_cached_decoding_with_cross_attention_equals_full_decoding():
    model = tiny(num_decoder_layers=2)
    context, source_mask = model.encode(SOURCE)
    full = np.asarray(model.decode(TARGET, context, source_mask))
    cross_cache = model.cross_attention_cache(context)
    cache = model.initial_cache(2, max_length=8)
    steps = []
    for index in range(TARGET.shape[1]):
        logits, cache = model.decode_with_cache(
            TARGET[:, index : index + 1],
            cache,
            index,
            source_padding_mask=source_mask,
            cross_attention_cache=cross_cache,
        )
        steps.append(np.asarray(logits))
    real = TARGET != 0
    assert_outputs_close(np.concatenate(steps, axis=1)[real], full[real], atol=1e-5)


def test_cross_attention_scores_rows_sum_to_one_over_real_source():
    model = tiny()
    scores = model.cross_attention_scores(SOURCE, TARGET)
    assert len(scores) == 1
    scores = np.asarray(scores[0])
    assert scores.shape == (2, 2, 5, 6)  # (B, N, T, S)
    assert_outputs_close(scores.sum(-1), np.ones((2, 2, 5)), atol=1e-5)
    assert np.all(scores[1, :, :2, 3:] < 1e-6)  # real target rows skip padded sources


def _argmax_decoding(model, source_ids, steps):
    """Reference greedy decoding: the full model on the whole prefix at every step."""
    context, source_mask = model.encode(source_ids)
    sequence = np.full((len(source_ids), 1), model.start_id)
    for _ in range(steps):
        logits = np.array(model.decode(sequence, context, source_mask))[:, -1]
        logits[:, model.pad_id] = -np.inf  # padding is never generated
        sequence = np.concatenate([sequence, logits.argmax(-1)[:, None]], axis=1)
    return _pad_after_end(sequence[:, 1:], model.end_id)


def _pad_after_end(tokens, end_id):
    tokens = np.array(tokens)
    for row in tokens:
        ends = np.flatnonzero(row == end_id)
        if ends.size:
            row[ends[0] + 1 :] = 0
    return tokens


@pytest.mark.tf_only
def test_greedy_search_caches_only_the_positions_it_can_fill(monkeypatch):
    model = tiny()
    model.build()
    lengths = []
    initial_cache = model.initial_cache

    def recording_initial_cache(batch_size, max_length=None):
        lengths.append(int(max_length))
        return initial_cache(batch_size, max_length)

    monkeypatch.setattr(model, "initial_cache", recording_initial_cache)
    expected = model.greedy_search(SOURCE, 7).numpy()
    model.greedy_search(SOURCE, 3)
    assert lengths == [8, 4]  # The start id and max_length tokens.
    np.testing.assert_array_equal(expected, _argmax_decoding(model, SOURCE, 7))


@pytest.mark.tf_only
@pytest.mark.parametrize("end_bias", [0.5, 1.0], ids=["never-ends", "ends-early"])
def test_greedy_equals_beam_size_one_and_full_recomputation(end_bias):
    model = tiny(tie_output_embedding=False)
    model.build()
    # A bias towards the end token makes both rows end, at different steps.
    model.output_projection.bias.assign(np.eye(24)[model.end_id] * end_bias)
    greedy = model.greedy_search(SOURCE, 7).numpy()
    beam, _ = model.beam_search(SOURCE, 1, 7, alpha=0.0)
    np.testing.assert_array_equal(greedy, _argmax_decoding(model, SOURCE, 7))
    np.testing.assert_array_equal(beam.numpy(), greedy)
    np.testing.assert_array_equal(model.search(SOURCE, beam_size=1, max_length=7), greedy)
    ended_rows = (greedy == model.end_id).any(axis=1)
    assert ended_rows.all() == (end_bias == 1.0), greedy


@pytest.mark.tf_only
def test_search_traces_once_for_all_batch_sizes_lengths_and_beams():
    model = tiny()
    model.search(SOURCE, beam_size=2, max_length=5)
    model.search(SOURCE[:1, :3], beam_size=3, max_length=9)
    tokens = model.search(np.tile(SOURCE, (3, 1)), beam_size=1, max_length=3)
    assert tokens.shape == (6, 3)
    assert model._compiled_search.experimental_get_tracing_count() == 1


@pytest.mark.tf_only
@pytest.mark.parametrize(
    "settings, message",
    [
        ({"beam_size": 0}, "beam_size"),
        ({"beam_size": MAX_BEAM_SIZE + 1}, "beam_size"),
        ({"max_length": 0}, "max_length"),
    ],
)
def test_search_rejects_bad_settings(settings, message):
    with pytest.raises(ValueError, match=f"{message}.*Received: {message}="):
        tiny().search(SOURCE, **settings)


@pytest.mark.tf_only
def test_in_graph_checks_reject_bad_tensor_settings():
    import tensorflow as tf

    with pytest.raises(tf.errors.InvalidArgumentError, match="beam_size"):
        tiny().search(SOURCE, beam_size=tf.constant(0))


@pytest.mark.tf_only
def test_max_length_above_the_model_maximum_is_clamped():
    model = tiny(max_sequence_length=6)
    assert model.search(SOURCE, beam_size=2, max_length=50).shape[1] == 6
    assert model.search(SOURCE, beam_size=1, max_length=50).shape[1] == 6


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: source_vocabulary_size=None"):
        Transformer.from_arguments(num_encoder_layers=1)
    with pytest.raises(ValueError, match="Received: end_id=40"):
        tiny(end_id=40)
    with pytest.raises(ValueError, match="Received: inputs=\\['source_ids'\\]"):
        tiny()({"source_ids": SOURCE})


def test_compile_defaults_are_the_papers():
    from transformer_keras.models import Transformer as Public
    from transformer_keras.optimization import TransformerSchedule

    assert Public is Transformer
    model = tiny()
    model.compile()
    optimizer = model.optimizer
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.9, 0.98, 1e-9)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, TransformerSchedule)
    assert (schedule.hidden_dim, schedule.warmup_steps) == (16, 4000)
    assert model.loss.label_smoothing == 0.1 and model.loss.pad_id == model.pad_id


@pytest.mark.tf_only
def test_separate_tokenizers_travel_with_the_model(tmp_path):
    from transformer_keras.text import CharTokenizer

    source = CharTokenizer.train(["hola mundo"])
    target = CharTokenizer.train(["hello world, goodbye"])
    model = Transformer.from_preset(
        "tiny", source_tokenizer=source, target_tokenizer=target, tie_output_embedding=False
    )
    assert model.source_vocabulary_size == source.vocabulary_size
    assert model.target_vocabulary_size == target.vocabulary_size != source.vocabulary_size
    assert (model.start_id, model.end_id) == (target.start_id, target.end_id)
    translations = model.translate(["hola", "mundo"], beam_size=2, max_length=5)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert reloaded.target_tokenizer.get_config() == target.get_config()
    assert translations.shape == (2,)
    source_ids = model.encode_source(tf.constant(["hola", "adiós"]))  # "ó" is unseen
    np.testing.assert_array_equal(
        reloaded.encode_source(tf.constant(["hola", "adiós"])), source_ids
    )
    inputs = {"source_ids": source_ids, "target_ids": np.array([[target.start_id, 5]] * 2)}
    assert_outputs_close(reloaded(inputs), model(inputs))


def test_translations_are_valid_utf8_whatever_bytes_the_model_emits():
    from transformer_keras.text import ByteTokenizer

    model = Transformer.from_preset("tiny", source_tokenizer=ByteTokenizer())
    model.build()
    rng = np.random.default_rng(0)
    for weight in model.weights:  # Large random weights: arbitrary byte sequences.
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    tokens = model.search(model.encode_source(tf.constant(["abc", "hola"])), 2, 12)
    raw = model.target_tokenizer.detokenize(tokens).numpy()
    assert any(_is_invalid_utf8(text) for text in raw)  # The case under test occurs.
    for text in model.translate(["abc", "hola"], beam_size=2, max_length=12).numpy():
        text.decode("utf-8")  # Strict: raises on invalid UTF-8.


def _is_invalid_utf8(data):
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
