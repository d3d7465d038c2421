"""Hugging Face checkpoint folders made in the test session, offline.

Small but real vocabularies are trained on real text (`texts.training_texts`) with
Hugging Face's `tokenizers` (WordPiece, byte-level BPE) and `sentencepiece`
(Marian), and written in each architecture's standard layout. The special ids
sit where the real checkpoints have them, so that no code can pass by assuming
0 to 3: BERT's `[PAD]` 0 and `[UNK] [CLS] [SEP] [MASK]` 100-103, GPT-2's
`<|endoftext|>` last, Marian's `</s>` 0, `<unk>` 1 and `<pad>` last.
"""

import io
import json

import pytest
import sentencepiece

from tests.text.pretrained.texts import comparison_texts, training_texts

BERT_SPECIAL = ("[UNK]", "[CLS]", "[SEP]", "[MASK]")
BERT_OPTIONS = {  # name -> tokenizer_config.json options
    "uncased": {"do_lower_case": True},
    "cased": {"do_lower_case": False},
    "lowercase_keep_accents": {"do_lower_case": True, "strip_accents": False},
    "strip_accents_only": {
        "do_lower_case": False,
        "strip_accents": True,
        "tokenize_chinese_chars": False,
    },
}
END_OF_TEXT = "<|endoftext|>"


def write_json(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")


@pytest.fixture(scope="session")
def texts():
    return comparison_texts()


@pytest.fixture(scope="session")
def wordpiece_vocabulary():
    """BERT's layout: [PAD], 99 unused tokens, [UNK] [CLS] [SEP] [MASK], learned pieces."""
    from tokenizers import BertWordPieceTokenizer

    trainer = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    trainer.train_from_iterator(
        training_texts(), vocab_size=3000, limit_alphabet=600, show_progress=False
    )
    learned = sorted(trainer.get_vocab().items(), key=lambda item: item[1])
    unused = [f"[unused{i}]" for i in range(99)]
    special = {"[PAD]", *BERT_SPECIAL}
    return ["[PAD]", *unused, *BERT_SPECIAL, *(t for t, _ in learned if t not in special)]


@pytest.fixture(scope="session")
def bert_folders(tmp_path_factory, wordpiece_vocabulary):
    """`{option name: folder}`: one vocab.txt, four normalizer settings."""
    folders = {}
    for name, options in BERT_OPTIONS.items():
        folder = tmp_path_factory.mktemp(f"bert_{name}")
        (folder / "vocab.txt").write_text(
            "\n".join(wordpiece_vocabulary) + "\n", encoding="utf-8"
        )
        write_json(
            folder / "tokenizer_config.json", {"tokenizer_class": "BertTokenizer", **options}
        )
        folders[name] = folder
    return folders


@pytest.fixture(scope="session")
def gpt2_folder(tmp_path_factory):
    """vocab.json and merges.txt of a byte-level BPE; `<|endoftext|>` is the last id."""
    from tokenizers import ByteLevelBPETokenizer

    folder = tmp_path_factory.mktemp("gpt2")
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        training_texts(), vocab_size=3000, min_frequency=2, show_progress=False
    )
    trainer.save_model(str(folder))
    vocabulary = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    vocabulary[END_OF_TEXT] = len(vocabulary)
    write_json(folder / "vocab.json", vocabulary)
    write_json(folder / "tokenizer_config.json", {"tokenizer_class": "GPT2Tokenizer"})
    return folder


def _train_sentencepiece(lines, vocabulary_size):
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocabulary_size,
        model_type="unigram",
        character_coverage=0.9995,
        minloglevel=2,
    )
    return model.getvalue()


@pytest.fixture(scope="session")
def marian_folder(tmp_path_factory):
    """source.spm, target.spm and one vocab.json numbering their pieces anew.

    `</s>` is 0, `<unk>` 1 and `<pad>` the last id, as in opus-mt; every 40th
    piece is left out of vocab.json (Hugging Face maps it to `<unk>`).
    """
    folder = tmp_path_factory.mktemp("marian")
    lines = training_texts()
    source = _train_sentencepiece(lines[::2], 1500)
    target = _train_sentencepiece(lines[1::2], 1200)
    (folder / "source.spm").write_bytes(source)
    (folder / "target.spm").write_bytes(target)
    pieces = set()
    for proto in (source, target):
        processor = sentencepiece.SentencePieceProcessor(model_proto=proto)
        pieces.update(processor.id_to_piece(i) for i in range(processor.get_piece_size()))
    pieces = sorted(pieces - {"<unk>", "<s>", "</s>"}, key=lambda piece: piece[::-1])
    pieces = [piece for index, piece in enumerate(pieces) if index % 40 != 39]
    tokens = ["</s>", "<unk>", *pieces, ">>de<<", ">>fr<<", "<pad>"]
    write_json(folder / "vocab.json", {token: index for index, token in enumerate(tokens)})
    write_json(
        folder / "tokenizer_config.json",
        {"tokenizer_class": "MarianTokenizer", "source_lang": "en", "target_lang": "de"},
    )
    return folder


def huggingface_ids(tokenizer, texts, **kwargs):
    return [tokenizer(text, add_special_tokens=False, **kwargs)["input_ids"] for text in texts]


def our_ids(tokenizer, texts):
    return tokenizer.tokenize(texts).to_list()


def mismatches(texts, ours, theirs, limit=5):
    """The first `limit` texts whose ids differ, with both id lists, for messages."""
    differing = [(t, o, h) for t, o, h in zip(texts, ours, theirs) if o != h]
    return len(differing), differing[:limit]
