"""One worker of a `MultiWorkerMirroredStrategy` job (the cluster is in `TF_CONFIG`).

    TF_CONFIG='{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": I}}' \
        python multi_worker_training.py OUTPUT_DIR

Every worker trains the same classifier for 2 epochs of 4 steps (global batch
16, so 8 examples per worker and step), keeps the training state in
OUTPUT_DIR/backup and exports to OUTPUT_DIR/export; only the chief's copies
stay. Prints one JSON line:

    {"chief": bool, "replicas": int, "loss": [per epoch], "written_to": path,
     "written_exists_after": bool}
"""

import json
import os
import sys

from transformer_keras.training.distribute import chief_writes, get_strategy, is_chief

strategy = get_strategy("multi-worker")  # Before any other TensorFlow op.

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from transformer_keras.export.classifier import export_classifier  # noqa: E402
from transformer_keras.models.classifier import TransformerClassifier  # noqa: E402
from transformer_keras.text import ByteTokenizer  # noqa: E402
from transformer_keras.training.reproducibility import set_seed  # noqa: E402
from transformer_keras.training.resumable_fit import fit_resumable  # noqa: E402

TEXTS = [f"text {i} was {'good' if i % 2 else 'bad'}" for i in range(64)]


def main(output_dir):
    set_seed(0)
    with strategy.scope():
        model = TransformerClassifier.from_arguments(
            num_classes=2,
            tokenizer=ByteTokenizer(),
            label_names=["bad", "good"],
            num_layers=1,
            hidden_dim=16,
            num_heads=2,
            intermediate_dim=32,
            max_sequence_length=20,
            dropout=0.0,
        )
        model.build((None, 20))
        model.compile(total_steps=8)
    token_ids = model.preprocess(TEXTS)
    labels = np.arange(len(TEXTS)) % 2

    def make_batches():
        examples = tf.data.Dataset.from_tensor_slices((token_ids, labels))
        return examples.shuffle(64, seed=1).batch(16)

    history = fit_resumable(
        model,
        make_batches,
        epochs=2,
        backup_dir=os.path.join(output_dir, "backup"),
        save_freq=2,
        strategy=strategy,
        verbose=0,
        delete_state_when_done=False,
    )
    with chief_writes(os.path.join(output_dir, "export"), strategy) as target:
        export_classifier(model, target)
    report = {
        "chief": is_chief(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "loss": history.history["loss"],
        "written_to": target,
        "written_exists_after": os.path.exists(target),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
