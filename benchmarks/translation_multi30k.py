"""Quality benchmark of the translator: sacreBLEU against training time.

    python -m benchmarks.translation_multi30k                     # Multi30k de->en, 3 h
    python -m benchmarks.translation_multi30k --dataset tatoeba   # Tatoeba es->en
    python -m benchmarks.translation_multi30k --hours 0.05 --preset tiny   # smoke run

Trains the `small` preset (3+3 layers, width 256, 8 heads, feed-forward 512)
with `model.fit` on the training split (a joint SentencePiece vocabulary
learned on it, batches of length buckets under a token budget, label
smoothing 0.1, the paper's schedule and Adam), and after every epoch
translates the held-out split with beam search and scores it with sacreBLEU.
Every evaluation is appended to `<output>/curve.tsv` (training seconds,
epoch, BLEU, chrF) and the model is saved to `<output>/model.keras`, so an
interrupted run keeps its curve and its best model. The final table is
printed with the exact command.

Data: ../shared/data/multi30k/{train,val}.{de,en} (validation = the official
val split) and ../shared/data/spa-eng/spa.txt (held-out split =
`transformer_keras.data.translation.split_of` on the English side).
"""

import argparse
import shlex
import sys
import time
from pathlib import Path

DATASETS = ("multi30k", "tatoeba")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="multi30k")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--hours", type=float, default=3.0, help="training time budget")
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--token-budget", type=int, default=2048, help="tokens per batch")
    parser.add_argument("--warmup-steps", type=int, default=400)
    parser.add_argument("--lr-scale", type=float, default=0.35, help="schedule scale")
    parser.add_argument("--max-length", type=int, default=64, help="tokens per sentence")
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=0.6)
    parser.add_argument("--limit", type=int, default=None, help="use the first N pairs only")
    parser.add_argument(
        "--eval-sentences", type=int, default=None, help="score the first N held-out pairs"
    )
    parser.add_argument("--output", default=None, help="default benchmarks/results/<dataset>")
    parser.add_argument(
        "--data-dir", default=None, help="the shared data folder (default: shared_data_dir())"
    )
    return parser.parse_args(argv)


def load_splits(dataset, data_dir=None, limit=None):
    """`((train_sources, train_targets), (val_sources, val_targets))` lists."""
    from transformer_keras.data.translation import read_lines, read_tsv_pairs

    if data_dir is None:
        from transformer_keras.data.paths import shared_data_dir

        data_dir = shared_data_dir()

    def shared_data_file(relative):
        return Path(data_dir) / relative

    if dataset == "multi30k":
        train = (
            read_lines(shared_data_file("multi30k/train.de")),
            read_lines(shared_data_file("multi30k/train.en")),
        )
        validation = (
            read_lines(shared_data_file("multi30k/val.de")),
            read_lines(shared_data_file("multi30k/val.en")),
        )
    else:
        path = shared_data_file("spa-eng/spa.txt")
        columns = dict(source_column=1, target_column=0)
        train = read_tsv_pairs(path, split="train", **columns)
        validation = read_tsv_pairs(path, split="validation", **columns)
    if limit:
        train = tuple(side[:limit] for side in train)
        validation = tuple(side[: max(limit // 10, 8)] for side in validation)
    return train, validation


def translate_all(model, sources, beam_size, alpha, batch_size=64):
    """Beam-search translations of a list of strings, as a list of strings.

    Sentences are translated in batches of similar source lengths, each with
    `max_length = 2 * longest source + 10` tokens: the self-attention cache the
    beams reorder at every step is then as short as the batch allows.
    """
    lengths = model.source_tokenizer.tokenize(sources).row_lengths().numpy()
    order = sorted(range(len(sources)), key=lambda index: lengths[index])
    translations = [None] * len(sources)
    for start in range(0, len(order), batch_size):
        indexes = order[start : start + batch_size]
        max_length = min(
            2 * int(max(lengths[i] for i in indexes)) + 10, model.max_sequence_length
        )
        batch = model.translate([sources[i] for i in indexes], beam_size, max_length, alpha)
        for index, text in zip(indexes, batch.numpy()):
            translations[index] = text.decode("utf-8")
    return translations


def main(argv=None):
    args = parse_args(argv)
    import keras
    import sacrebleu

    from transformer_keras.data.translation import pairs_dataset, translation_batches
    from transformer_keras.models.seq2seq import Transformer
    from transformer_keras.optimization import (
        MaskedAccuracy,
        MaskedSparseCategoricalCrossentropy,
        TransformerSchedule,
        paper_adam,
    )
    from transformer_keras.text import SubwordTokenizer

    output = Path(args.output or f"benchmarks/results/{args.dataset}")
    output.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.translation_multi30k " + shlex.join(argv or sys.argv[1:])
    keras.utils.set_random_seed(0)
    (train_sources, train_targets), (val_sources, val_targets) = load_splits(
        args.dataset, args.data_dir, args.limit
    )
    if args.eval_sentences:
        val_sources, val_targets = (
            val_sources[: args.eval_sentences],
            val_targets[: args.eval_sentences],
        )
    print(f"{len(train_sources)} training pairs, {len(val_sources)} held-out pairs", flush=True)

    started = time.time()
    tokenizer = SubwordTokenizer.train(
        train_sources + train_targets, vocabulary_size=args.vocabulary_size
    )
    print(f"joint vocabulary of {tokenizer.vocabulary_size} in {time.time() - started:.0f} s")

    train = translation_batches(
        pairs_dataset(train_sources, train_targets),
        tokenizer,
        tokenizer,
        max_length=args.max_length,
        token_budget=args.token_budget,
        shuffle=True,
    )
    model = Transformer.from_preset(
        args.preset, source_tokenizer=tokenizer, max_sequence_length=args.max_length + 1
    )
    model.compile(
        optimizer=paper_adam(
            TransformerSchedule(model.hidden_dim, args.warmup_steps, args.lr_scale)
        ),
        loss=MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, pad_id=model.pad_id),
        metrics=[MaskedAccuracy(pad_id=model.pad_id)],
    )

    curve_path = output / "curve.tsv"
    curve_path.write_text("seconds\tepoch\tloss\tbleu\tchrf\n")
    training_seconds, best_bleu, rows = 0.0, -1.0, []
    for epoch in range(1, args.max_epochs + 1):
        started = time.time()
        history = model.fit(train, epochs=1, verbose=2)
        training_seconds += time.time() - started
        hypotheses = translate_all(model, val_sources, args.beam_size, args.alpha)
        bleu = sacrebleu.corpus_bleu(hypotheses, [val_targets]).score
        chrf = sacrebleu.corpus_chrf(hypotheses, [val_targets]).score
        loss = history.history["loss"][-1]
        rows.append((training_seconds, epoch, loss, bleu, chrf))
        with curve_path.open("a") as curve:
            curve.write(
                f"{training_seconds:.0f}\t{epoch}\t{loss:.4f}\t{bleu:.2f}\t{chrf:.2f}\n"
            )
        print(
            f"epoch {epoch}: {training_seconds / 60:.1f} min of training, loss {loss:.3f}, "
            f"BLEU {bleu:.2f}, chrF {chrf:.2f}  e.g. {hypotheses[0]!r}",
            flush=True,
        )
        if bleu > best_bleu:
            best_bleu = bleu
            model.save(output / "model.keras")
        if training_seconds > args.hours * 3600:
            break

    print(f"\n{command}\n")
    print("| training time (min) | epoch | loss | sacreBLEU | chrF |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for seconds, epoch, loss, bleu, chrf in rows:
        print(f"| {seconds / 60:.0f} | {epoch} | {loss:.3f} | {bleu:.2f} | {chrf:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
