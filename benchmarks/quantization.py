"""int8 weights (Keras' `quantize`) against float32 and bfloat16: quality, size, speed.

    python -m benchmarks.quantization            # 600 training steps, 256 new tokens
    python -m benchmarks.quantization --quick    # smoke run (numbers mean nothing)

nanoGPT's CPU language model (the `nanogpt-cpu` preset: 4 layers, width 128,
context 64) is trained on Tiny Shakespeare's characters (../shared/data, the
first 90%), then copied three ways: as trained (float32), `with_dtype("bfloat16")`,
and `quantize("int8")` (Keras' per-channel int8 weights with int8
activations). For each: the validation loss on the last 10% (every token
predicted once, `recipes.language_model.evaluate_ids`), the bytes of its
weights and of its exported SavedModel, and cached greedy generation at batch 1
(`generate`, XLA, 256 new tokens from a 16-character prompt; the three run in
turn, median of `--repeats`).
"""

import argparse
import pathlib
import sys
import tempfile
import time

from benchmarks import common


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args(argv)


def trained_model(args):
    import keras

    from benchmarks.lm_shakespeare import shakespeare_ids
    from transformer_keras.data.language_modeling import window_dataset
    from transformer_keras.models.language_model import TransformerLM

    keras.utils.set_random_seed(1337)
    tokenizer, train_ids, validation_ids = shakespeare_ids()
    steps = 5 if args.quick else args.steps
    model = TransformerLM.from_preset("nanogpt-cpu", tokenizer=tokenizer)
    model.compile(total_steps=steps, learning_rate=1e-3, jit_compile=True)
    batches = window_dataset(train_ids, model.max_sequence_length, 12, random_offsets=True)
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    return model, validation_ids[: 2000 if args.quick else None]


def folder_bytes(path):
    return sum(f.stat().st_size for f in pathlib.Path(path).rglob("*") if f.is_file())


def main(argv=None):
    from benchmarks.generation import measure_alternating
    from transformer_keras.export.language_model import export_language_model
    from transformer_keras.recipes.language_model import evaluate_ids

    args = parse_args(argv)
    started = time.perf_counter()
    model, validation_ids = trained_model(args)
    copies = {"float32": model, "bfloat16": model.with_dtype("bfloat16")}
    copies["int8"] = model.with_dtype("float32")
    copies["int8"].quantize("int8")
    new_tokens = 16 if args.quick else 256
    prompt = [list(validation_ids[:16])]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, copy in copies.items():
            loss, _ = evaluate_ids(copy, validation_ids, batch_size=256)
            path = export_language_model(copy, f"{folder}/{name}", keras_file=False)
            results[name] = {
                "loss": loss,
                "weights": common.weight_bytes(copy),
                "saved_model": folder_bytes(path),
            }

    def generator(copy):
        def generate():
            return len(copy.generate(prompt, new_tokens, temperature=0.0)[0])

        return generate

    rates = measure_alternating(
        {name: generator(copy) for name, copy in copies.items()}, args.repeats
    )
    command = f"python -m benchmarks.quantization {' '.join(sys.argv[1:])}".strip()
    print(f"\n{command}  ({time.perf_counter() - started:.0f} s)\n")
    print("| weights | validation loss | change | weights | SavedModel | tokens/s, batch 1 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        change = result["loss"] - results["float32"]["loss"]
        sizes = f"{result['weights'] / 1e6:.2f} MB | {result['saved_model'] / 1e6:.2f} MB"
        print(
            f"| {name} | {result['loss']:.4f} | {change:+.4f} | {sizes} | {rates[name]:.0f} |"
        )
    return {"results": results, "rates": rates}


if __name__ == "__main__":
    main()
