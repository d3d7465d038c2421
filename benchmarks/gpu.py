"""nanoGPT's GPU recipes with `TransformerLM` on JAX, beside nanoGPT on the same GPU.

    python -m benchmarks.gpu prepare OUT              # on the CPU, before the device run
    KERAS_BACKEND=jax python -m benchmarks.gpu --data OUT [--nanogpt DIR]
    KERAS_BACKEND=jax python -m benchmarks.gpu --quick   # CPU smoke run (make test)

`prepare` writes Tiny Shakespeare (../shared/data) as nanoGPT's own
`data/shakespeare_char/prepare.py` does: the sorted characters of the text
(65) as ids, the first 90% for training, the last 10% for validation, in
`OUT/shakespeare_char/{train,val}.bin` (uint16) and `meta.pkl`. Both
implementations read these files. Our model gets each id plus one (its id 0
pads and is never an input or a target), so its vocabulary is 66.

The run needs Keras, JAX and NumPy only (no TensorFlow: the device has none)
and ends well inside 8 minutes on an H100 or H200. It measures, on one GPU:

- **Quality race**: nanoGPT's `config/train_shakespeare_char.py` (6 layers, 6
  heads, width 384, context 256, batch 64, dropout 0.2, AdamW at 1e-3 with 100
  warmup steps and a cosine decay to 1e-4 over 5000 steps). Ours: the
  `nanogpt-gpu` preset in mixed bfloat16, XLA-compiled `model.fit`; every 250
  steps the validation loss is estimated as nanoGPT does (200 batches of 64
  windows, drawn once). Recorded: the curve, the wall time (compilation and
  estimates included, as nanoGPT's loop) to a validation loss of at most 1.47,
  and the final loss; with `--nanogpt DIR` (a checkout of karpathy/nanoGPT,
  carried, never committed), its `train.py` runs the same recipe with
  `compile=True` on the same files and its log gives the same figures.
- **Throughput** at GPT-2-small size (12 layers, width 768, 12 heads, context
  1024, vocabulary 50304, batch 16, random ids): training tokens/s and model
  FLOPs utilisation, with nanoGPT's formula (`6N + 12 L H Q T` FLOPs per
  token, `N` without the position table) against the GPU's dense bfloat16
  peak; nanoGPT's `bench.py` (`compile=True`, random data) beside it.
- **Generation**: cached tokens/s of the Shakespeare model at batch 1 and 64.

The JSON report goes to `--output` (default `benchmarks/results/gpu.json`)
with the GPU's name, its driver and the versions; the table is printed.
"""

import argparse
import json
import math
import os
import pathlib
import pickle
import platform
import re
import subprocess
import sys
import time

import numpy as np

TARGET_LOSS = 1.47
NANOGPT_PUBLISHED_LOSS = 1.4697
DENSE_BFLOAT16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12}  # FLOP/s

# The recipes; `--quick` shrinks every size (its numbers mean nothing).
RACE = dict(steps=5000, eval_every=250, eval_batches=200, batch_size=64, seed=1337)
QUICK_RACE = dict(steps=20, eval_every=10, eval_batches=2, batch_size=8, seed=1337)
QUICK_SHAKESPEARE = dict(
    num_layers=2, hidden_dim=32, num_heads=2, intermediate_dim=64, max_sequence_length=32
)
GPT2_SMALL = dict(
    vocabulary_size=50304,
    num_layers=12,
    hidden_dim=768,
    num_heads=12,
    intermediate_dim=3072,
    max_sequence_length=1024,
)
QUICK_GPT2 = dict(
    vocabulary_size=512,
    num_layers=2,
    hidden_dim=32,
    num_heads=2,
    intermediate_dim=64,
    max_sequence_length=64,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=pathlib.Path, help="the folder `prepare` wrote")
    parser.add_argument("--nanogpt", type=pathlib.Path, help="a nanoGPT checkout to run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few steps")
    parser.add_argument("--only", default="race,throughput,generation")
    parser.add_argument("--output", type=pathlib.Path)
    return parser.parse_args(argv)


# ------------------------------------------------------------------------ data
def prepare(out):
    """Writes nanoGPT's character-level Tiny Shakespeare files under `out`."""
    from transformer_keras.data.paths import shared_data_file

    text = shared_data_file("tinyshakespeare/input.txt").read_text(encoding="utf-8")
    characters = sorted(set(text))
    index = {character: i for i, character in enumerate(characters)}
    ids = np.array([index[character] for character in text], dtype=np.uint16)
    split = int(len(ids) * 0.9)
    folder = pathlib.Path(out) / "shakespeare_char"
    folder.mkdir(parents=True, exist_ok=True)
    ids[:split].tofile(folder / "train.bin")
    ids[split:].tofile(folder / "val.bin")
    meta = {
        "vocab_size": len(characters),
        "itos": dict(enumerate(characters)),
        "stoi": index,
    }
    with open(folder / "meta.pkl", "wb") as file:
        pickle.dump(meta, file)
    return folder


def load_split(data, split):
    """Our ids of one split: nanoGPT's plus one, int32."""
    raw = np.fromfile(pathlib.Path(data) / "shakespeare_char" / f"{split}.bin", np.uint16)
    return raw.astype(np.int32) + 1


def random_windows(ids, context, batch_size, rng):
    """Batches of `batch_size` windows at random offsets, forever: `(x, y)` `(B, T)`."""
    while True:
        starts = rng.integers(0, len(ids) - context - 1, batch_size)
        windows = np.stack([ids[s : s + context + 1] for s in starts])  # (B, T + 1)
        yield windows[:, :-1], windows[:, 1:]


# ------------------------------------------------------------------ our model
def shakespeare_model(quick, vocabulary_size):
    from transformer_keras.models.language_model import TransformerLM

    sizes = QUICK_SHAKESPEARE if quick else {}
    return TransformerLM.from_preset(
        "nanogpt-gpu", vocabulary_size=vocabulary_size, dtype="mixed_bfloat16", **sizes
    )


def compile_like_nanogpt(model, steps):
    """nanoGPT's optimizer: AdamW (0.9, 0.99), decay 0.1, clipping at 1, 100
    warmup steps to 1e-3, cosine to 1e-4; plain cross-entropy (no padding)."""
    import keras

    from transformer_keras.optimization import adamw, warmup_cosine

    schedule = warmup_cosine(
        1e-3, warmup_steps=min(100, steps // 2), total_steps=steps, final_learning_rate=1e-4
    )
    model.compile(
        optimizer=adamw(
            schedule, weight_decay=0.1, beta_2=0.99, epsilon=1e-8, global_clipnorm=1.0
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[],
        jit_compile=True,
    )


def quality_race(data, quick):
    """Trains the Shakespeare model; returns the model and its curve."""
    import keras

    recipe = QUICK_RACE if quick else RACE
    keras.utils.set_random_seed(recipe["seed"])
    train_ids, validation_ids = load_split(data, "train"), load_split(data, "val")
    vocabulary_size = int(max(train_ids.max(), validation_ids.max())) + 1
    model = shakespeare_model(quick, vocabulary_size)
    compile_like_nanogpt(model, recipe["steps"])
    context, batch_size = model.max_sequence_length, recipe["batch_size"]
    rng = np.random.default_rng(recipe["seed"])
    estimate = next(
        random_windows(validation_ids, context, recipe["eval_batches"] * batch_size, rng)
    )
    curve, started = [], time.perf_counter()

    class Estimate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            step = (epoch + 1) * recipe["eval_every"]
            curve.append([step, time.perf_counter() - started, logs["loss"], logs["val_loss"]])
            print(
                f"ours step {step}: train loss {logs['loss']:.4f}, val loss "
                f"{logs['val_loss']:.4f} ({curve[-1][1]:.1f} s)",
                flush=True,
            )

    model.fit(
        random_windows(train_ids, context, batch_size, rng),
        validation_data=estimate,
        validation_batch_size=batch_size,
        epochs=recipe["steps"] // recipe["eval_every"],
        steps_per_epoch=recipe["eval_every"],
        callbacks=[Estimate()],
        shuffle=False,  # random windows already
        verbose=0,
    )
    return model, race_summary(curve)


def race_summary(curve):
    """The summary of a curve of `[step, seconds, train loss, validation loss]` rows."""
    reached = next((row for row in curve if row[3] <= TARGET_LOSS), None)
    return {
        "curve": curve,
        "final": curve[-1][3] if curve else None,
        "seconds": curve[-1][1] if curve else None,
        "to_target": None if reached is None else {"step": reached[0], "seconds": reached[1]},
        "finite": all(math.isfinite(value) for row in curve for value in row[2:]),
    }


def flops_per_token(num_parameters, num_layers, num_heads, head_dim, context):
    """nanoGPT's `estimate_mfu` count (PaLM, appendix B): `6N + 12 L H Q T`."""
    return 6 * num_parameters + 12 * num_layers * num_heads * head_dim * context


def our_throughput(quick):
    """Training tokens/s at GPT-2-small size, mixed bfloat16, XLA."""
    import keras

    from transformer_keras.models.language_model import TransformerLM

    sizes = QUICK_GPT2 if quick else GPT2_SMALL
    batch_size, warmup, timed = (2, 1, 2) if quick else (16, 5, 20)
    model = TransformerLM.from_preset(
        "nanogpt-gpu", dropout=0.0, dtype="mixed_bfloat16", **sizes
    )
    compile_like_nanogpt(model, 5000)
    rng = np.random.default_rng(0)
    shape = (batch_size, sizes["max_sequence_length"])
    x = rng.integers(1, sizes["vocabulary_size"], shape).astype("int32")
    y = rng.integers(1, sizes["vocabulary_size"], shape).astype("int32")
    for _ in range(warmup):
        model.train_on_batch(x, y)
    started = time.perf_counter()
    for _ in range(timed):
        loss = model.train_on_batch(x, y)
    seconds = (time.perf_counter() - started) / timed
    position_table = sizes["max_sequence_length"] * sizes["hidden_dim"]
    num_parameters = model.count_params() - position_table
    per_token = flops_per_token(
        num_parameters,
        sizes["num_layers"],
        sizes["num_heads"],
        sizes["hidden_dim"] // sizes["num_heads"],
        sizes["max_sequence_length"],
    )
    tokens_per_second = batch_size * sizes["max_sequence_length"] / seconds
    return {
        "tokens_per_second": tokens_per_second,
        "flops_per_token": per_token,
        "step_ms": seconds * 1000,
        "finite": bool(np.isfinite(float(keras.ops.convert_to_numpy(loss)))),
    }


def our_generation(model, quick):
    """Cached tokens/s of `model` at batch 1 and 64 (greedy, after a warm-up call)."""
    new_tokens = 16 if quick else 256
    speeds = {}
    for batch in (1, 64):
        prompts = [[2 + i % 60] for i in range(batch)]
        model.generate(prompts, new_tokens, temperature=0.0)  # compiles
        started = time.perf_counter()
        model.generate(prompts, new_tokens, temperature=0.0)
        speeds[f"batch_{batch}"] = batch * new_tokens / (time.perf_counter() - started)
    return speeds


# -------------------------------------------------------------------- nanoGPT
def run_logged(command, cwd, timeout):
    """Runs `command`, stamping each stdout line with the seconds since its start."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    for line in process.stdout:
        lines.append((time.perf_counter() - started, line.rstrip()))
        print(f"nanoGPT | {line.rstrip()}", flush=True)
        if time.perf_counter() - started > timeout:
            process.kill()
            break
    process.wait()
    return process.returncode, lines


EVAL_LINE = re.compile(r"step (\d+): train loss ([\d.]+|nan), val loss ([\d.]+|nan)")
BENCH_LINE = re.compile(r"time per iteration: ([\d.]+)ms, MFU: ([\d.]+)%")


def parse_training_log(lines):
    """`[step, seconds, train, val]` rows of nanoGPT's `train.py` evaluation lines.

    Seconds count from its optimizer's set-up (the last line before its loop,
    as ours count from the start of `fit`): Python's and PyTorch's start-up
    are not training time; compilation, as for ours, is.
    """
    start = next((seconds for seconds, line in lines if "using fused AdamW" in line), 0.0)
    rows = []
    for seconds, line in lines:
        match = EVAL_LINE.search(line)
        if match:
            step, train, validation = match.groups()
            rows.append([int(step), seconds - start, float(train), float(validation)])
    return rows


def parse_bench_log(lines):
    """nanoGPT's `bench.py` milliseconds per iteration, or None."""
    for _, line in lines:
        match = BENCH_LINE.search(line)
        if match:
            return float(match.group(1))
    return None


def nanogpt_race(nanogpt, data, quick):
    recipe = QUICK_RACE if quick else RACE
    dataset = os.path.relpath(pathlib.Path(data) / "shakespeare_char", nanogpt / "data")
    command = [
        sys.executable,
        "train.py",
        "config/train_shakespeare_char.py",
        f"--dataset={dataset}",
        f"--max_iters={recipe['steps']}",
        f"--lr_decay_iters={recipe['steps']}",
        f"--eval_interval={recipe['eval_every']}",
        f"--eval_iters={recipe['eval_batches']}",
        f"--batch_size={recipe['batch_size']}",
        "--out_dir=/tmp/nanogpt-out",
        "--always_save_checkpoint=False",
    ]
    if quick:
        command += [
            "--device=cpu",
            "--compile=False",
            "--n_layer=2",
            "--n_head=2",
            "--n_embd=32",
            "--block_size=32",
        ]
    else:
        command += ["--compile=True"]
    code, lines = run_logged(command, nanogpt, timeout=420)
    rows = parse_training_log(lines)
    # Its first evaluation is at step 0, before training: ours starts at the first interval.
    return {"returncode": code, **race_summary([row for row in rows if row[0] > 0])}


def nanogpt_throughput(nanogpt, quick):
    if quick:  # its bench.py synchronizes CUDA unconditionally
        return {"skipped": "nanoGPT's bench.py needs CUDA", "tokens_per_second": None}
    sizes = GPT2_SMALL
    batch_size = 16
    command = [
        sys.executable,
        "bench.py",
        "--real_data=False",
        f"--batch_size={batch_size}",
        f"--block_size={sizes['max_sequence_length']}",
        "--bias=False",
        "--compile=True",
    ]
    code, lines = run_logged(command, nanogpt, timeout=240)
    milliseconds = parse_bench_log(lines)
    if milliseconds is None:
        return {"returncode": code, "tokens_per_second": None}
    return {
        "returncode": code,
        "step_ms": milliseconds,
        "tokens_per_second": batch_size * sizes["max_sequence_length"] / (milliseconds / 1000),
    }


# --------------------------------------------------------------------- report
def machine():
    """The GPU (or CPU), its driver and the versions of what ran."""
    import jax
    import keras

    device = jax.devices()[0]
    info = {
        "device": getattr(device, "device_kind", str(device)),
        "platform": device.platform,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }
    try:
        info["driver"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        info["driver"] = None
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def peak_flops(device_name):
    for name, flops in DENSE_BFLOAT16_PEAK.items():
        if name in device_name:
            return flops
    return None


def table(report):
    """The Markdown table of a report."""
    lines = [
        "| measure | transformer_keras (JAX) | nanoGPT (PyTorch) | ratio |",
        "|---|---:|---:|---:|",
    ]
    race, anchor = report.get("race"), report.get("nanogpt_race")
    if race:
        ours_time = (race["to_target"] or {}).get("seconds")
        theirs_time = ((anchor or {}).get("to_target") or {}).get("seconds")
        ratio = f"{ours_time / theirs_time:.2f}" if ours_time and theirs_time else "-"
        lines.append(
            f"| wall time to val <= {TARGET_LOSS} | {_seconds(ours_time)} "
            f"| {_seconds(theirs_time)} | {ratio} |"
        )
        lines.append(
            f"| final val loss | {race['final']:.4f} "
            f"| {_loss((anchor or {}).get('final'))} | - |"
        )
    ours, theirs = report.get("throughput"), report.get("nanogpt_throughput")
    if ours:
        theirs_speed = (theirs or {}).get("tokens_per_second")
        ratio = f"{ours['tokens_per_second'] / theirs_speed:.2f}" if theirs_speed else "-"
        lines.append(
            f"| GPT-2 small training tokens/s | {ours['tokens_per_second']:,.0f} "
            f"| {_speed(theirs_speed)} | {ratio} |"
        )
        peak = report["peak_flops"]
        if peak:
            mfu = ours["tokens_per_second"] * ours["flops_per_token"] / peak
            theirs_mfu = theirs_speed * ours["flops_per_token"] / peak if theirs_speed else None
            lines.append(
                f"| MFU (dense bf16 peak) | {mfu:.1%} "
                f"| {'-' if theirs_mfu is None else f'{theirs_mfu:.1%}'} | - |"
            )
    for batch, speed in (report.get("generation") or {}).items():
        lines.append(
            f"| generation tokens/s, {batch.replace('_', ' ')} | {speed:,.0f} | - | - |"
        )
    return "\n".join(lines)


def _seconds(value):
    return "not reached" if value is None else f"{value:.1f} s"


def _loss(value):
    return "-" if value is None else f"{value:.4f}"


def _speed(value):
    return "-" if value is None else f"{value:,.0f}"


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["prepare"]:
        print(prepare(argv[1] if len(argv) > 1 else "gpu_run"))
        return 0
    args = parse_args(argv)
    parts = set(args.only.split(","))
    data = args.data
    if data is None:  # prepared here, in a temporary folder (needs ../shared/data)
        import tempfile

        data = prepare(tempfile.mkdtemp(prefix="gpu-data-")).parent
    info = machine()
    report = {"machine": info, "quick": args.quick, "peak_flops": peak_flops(info["device"])}
    started = time.perf_counter()
    model = None
    if "race" in parts or "generation" in parts:
        model, report["race"] = quality_race(data, args.quick)
    if "throughput" in parts:
        report["throughput"] = our_throughput(args.quick)
    if "generation" in parts:
        report["generation"] = our_generation(model, args.quick)
    if args.nanogpt is not None:
        if "race" in parts:
            report["nanogpt_race"] = nanogpt_race(args.nanogpt, data, args.quick)
        if "throughput" in parts:
            report["nanogpt_throughput"] = nanogpt_throughput(args.nanogpt, args.quick)
    report["seconds"] = time.perf_counter() - started
    output = args.output or pathlib.Path(__file__).parent / "results" / "gpu.json"
    if args.quick and args.output is None:  # a smoke run's numbers are not results
        import tempfile

        output = pathlib.Path(tempfile.mkdtemp(prefix="gpu-quick-")) / "gpu.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_text(json.dumps(report, indent=2))
    partial.replace(output)
    print(
        f"\n{info['device']} (driver {info['driver']}), jax {info['jax']}, "
        f"keras {info['keras']}, torch {info['torch']}: {report['seconds']:.0f} s\n"
    )
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
