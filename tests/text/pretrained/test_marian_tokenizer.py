import json

import keras
import pytest
import tensorflow as tf

from tests.text.pretrained.conftest import mismatches, our_ids
from transformer_keras.text import MarianTokenizer, load_huggingface_tokenizer

pytestmark = [
    pytest.mark.tf_only,
    pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses"),
]
transformers = pytest.importorskip("transformers")
SPECIAL = ("</s>", "<unk>", "<pad>")


@pytest.fixture(scope="module")
def theirs(marian_folder):
    return transformers.MarianTokenizer.from_pretrained(str(marian_folder))


@pytest.fixture(scope="module")
def sides(marian_folder):
    return {side: load_huggingface_tokenizer(marian_folder, side=side) for side in SIDES}


SIDES = ("source", "target")


def huggingface_ids(tokenizer, texts, side):
    if side == "target":
        return [tokenizer(text_target=text)["input_ids"] for text in texts]
    return [tokenizer(text)["input_ids"] for text in texts]


@pytest.mark.parametrize("side", SIDES)
def test_ids_with_end_equal_hugging_face(sides, theirs, marian_folder, texts, side):
    """Hugging Face appends </s>: `encode(..., add_end=True)`.

    One difference is allowed: where two segmentations score the same (the same
    pieces in another order, "." + "...." or "...." + "."), tensorflow-text's
    SentencePiece and the `sentencepiece` package may pick different ones.
    """
    import sentencepiece

    ours = sides[side]
    assert len(texts) >= 1000
    expected = huggingface_ids(theirs, texts, side)
    ids = [i + [ours.end_id] for i in our_ids(ours, texts)]
    count, examples = mismatches(texts, ids, expected, limit=len(texts))
    processor = sentencepiece.SentencePieceProcessor(
        model_file=str(marian_folder / f"{side}.spm")
    )

    def score(ids):
        return sum(processor.GetScore(processor.PieceToId(ours.id_to_token(i))) for i in ids)

    for text, mine, reference in examples:
        assert sorted(mine) == sorted(reference), text
        assert score(mine) == pytest.approx(score(reference)), text
    assert count <= 3, examples


@pytest.mark.parametrize("side", SIDES)
def test_detokenize_equals_hugging_face_decode(sides, theirs, texts, side):
    ours = sides[side]
    ids = our_ids(ours, texts)
    special = {ours.unknown_id, ours.end_id, ours.pad_id}
    comparable = [i for i in ids if not special & set(i)]
    assert len(comparable) > 500
    decoded = ours.detokenize(tf.ragged.constant(comparable, tf.int32)).numpy()
    expected = [
        theirs.decode(i, skip_special_tokens=True, use_source_tokenizer=side == "source")
        for i in comparable
    ]
    assert [text.decode("utf-8") for text in decoded] == expected


def test_special_ids_follow_marian(sides, theirs):
    source, target = sides["source"], sides["target"]
    for ours in (source, target):
        assert (ours.end_id, ours.unknown_id) == (0, 1)
        assert ours.pad_id == ours.start_id == theirs.pad_token_id == ours.vocabulary_size - 1
    assert source.proto != target.proto and source.vocabulary == target.vocabulary


def test_sentencepiece_ids_are_not_marian_ids(sides, marian_folder):
    import sentencepiece

    ours = sides["source"]
    processor = sentencepiece.SentencePieceProcessor(
        model_file=str(marian_folder / "source.spm")
    )
    text = "A man rides a horse."
    pieces = processor.encode(text, out_type=str)
    assert our_ids(ours, [text])[0] == [ours.vocabulary.get(p, ours.unknown_id) for p in pieces]
    assert our_ids(ours, [text])[0] != processor.encode(text)


def test_language_codes_and_special_tokens(sides, theirs):
    ours = sides["source"]
    texts = [">>de<< Hallo", ">>fr<<x", ">>xx<< a", ">><<", "a >>de<<", "a</s>b", "<pad> <unk>"]
    expected = huggingface_ids(theirs, texts, "source")
    assert [i + [ours.end_id] for i in our_ids(ours, texts)] == expected
    assert our_ids(ours, [">>de<<"]) == [[ours.token_to_id(">>de<<")]]


def test_encode_for_the_decoder_starts_with_pad(sides):
    target = sides["target"]
    encoded = target.encode(["x"], 6, add_start=True, add_end=True).numpy()[0].tolist()
    assert encoded[0] == target.pad_id and target.end_id in encoded
    assert encoded[-1] == target.pad_id
    assert target.detokenize([encoded]).numpy().tolist() == [b"x"]


def _separate_vocabularies_folder(marian_folder, folder, target_special_ids=None):
    """A copy of the Marian folder whose target side numbers its pieces anew."""
    for name in ("source.spm", "target.spm", "vocab.json"):
        (folder / name).write_bytes((marian_folder / name).read_bytes())
    vocabulary = json.loads((marian_folder / "vocab.json").read_text(encoding="utf-8"))
    pieces = [token for token in vocabulary if token not in SPECIAL]
    target = {token: vocabulary[token] for token in SPECIAL}
    free = sorted(set(range(len(vocabulary))) - set(target.values()))
    target.update(zip(pieces, reversed(free)))
    target.update(target_special_ids or {})
    (folder / "target_vocab.json").write_text(json.dumps(target), encoding="utf-8")
    config = json.loads((marian_folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["separate_vocabs"] = True
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return vocabulary, target


def test_separate_target_vocabulary(marian_folder, tmp_path, texts):
    """`separate_vocabs`: the target side numbers its pieces with target_vocab.json."""
    vocabulary, target = _separate_vocabularies_folder(marian_folder, tmp_path)
    theirs = transformers.MarianTokenizer.from_pretrained(str(tmp_path))
    ours = load_huggingface_tokenizer(tmp_path, side="target")
    assert ours.vocabulary == target != vocabulary
    sample = texts[:300]
    expected = huggingface_ids(theirs, sample, "target")
    count, examples = mismatches(
        sample, [i + [ours.end_id] for i in our_ids(ours, sample)], expected
    )
    assert count == 0, examples


def test_separate_vocabularies_must_agree_on_special_ids(marian_folder, tmp_path):
    """Hugging Face takes special ids from vocab.json for both sides."""
    _separate_vocabularies_folder(marian_folder, tmp_path, {"</s>": 5, "<unk>": 0})
    with pytest.raises(ValueError, match=r"Received: path="):
        load_huggingface_tokenizer(tmp_path, side="target")


def test_runs_in_tf_data(sides, texts):
    ours = sides["target"]
    sample = texts[:64]
    expected = ours.encode(sample, 40, add_end=True).numpy().tolist()
    dataset = tf.data.Dataset.from_tensor_slices(sample).batch(16)
    dataset = dataset.map(lambda batch: ours.encode(batch, 40, add_end=True))
    assert [row.tolist() for batch in dataset for row in batch.numpy()] == expected


def test_config_holds_everything(sides, tmp_path, texts):
    ours = sides["source"]
    config = json.loads(json.dumps(ours.get_config()))
    assert isinstance(config["proto"], str)  # base64
    rebuilt = MarianTokenizer.from_config(config)
    sample = texts[:200]
    assert our_ids(rebuilt, sample) == our_ids(ours, sample)
    path = tmp_path / "marian.keras"
    keras.saving.save_model(ours, path)
    assert our_ids(keras.saving.load_model(path), sample) == our_ids(ours, sample)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"proto": b"not a model"}, "proto"),
        ({"proto": 3}, "proto"),
        ({"vocabulary": {"</s>": 0, "<unk>": 0}}, "vocabulary"),
        ({"pad_token": "<blank>"}, "pad_token"),
        ({"special_tokens": ["<eop>"]}, "special_tokens"),
    ],
)
def test_rejects_bad_arguments(marian_folder, kwargs, name):
    arguments = {
        "proto": str(marian_folder / "source.spm"),
        "vocabulary": str(marian_folder / "vocab.json"),
        **kwargs,
    }
    with pytest.raises(ValueError, match=rf"Received: {name}"):
        MarianTokenizer(**arguments)
