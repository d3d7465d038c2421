import keras
import pytest
import tensorflow as tf

from tests.text.pretrained.conftest import BERT_OPTIONS, huggingface_ids, mismatches, our_ids
from tests.text.pretrained.texts import has_special_token
from transformer_keras.text import WordPieceTokenizer, load_huggingface_tokenizer

pytestmark = pytest.mark.tf_only
transformers = pytest.importorskip("transformers")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@pytest.fixture(scope="module")
def pairs(bert_folders):
    """`{option name: (ours, Hugging Face's)}`, both read from the same folder."""
    return {
        name: (
            load_huggingface_tokenizer(folder),
            transformers.BertTokenizerFast.from_pretrained(str(folder)),
        )
        for name, folder in bert_folders.items()
    }


@pytest.mark.parametrize("name", sorted(BERT_OPTIONS))
def test_ids_equal_hugging_face(pairs, texts, name):
    ours, theirs = pairs[name]
    assert len(texts) >= 1000
    count, examples = mismatches(texts, our_ids(ours, texts), huggingface_ids(theirs, texts))
    assert count == 0, examples


def test_the_options_reach_the_normalizer(pairs):
    expected = {
        "uncased": (True, None, True),
        "cased": (False, None, True),
        "lowercase_keep_accents": (True, False, True),
        "strip_accents_only": (False, True, False),
    }
    for name, (ours, _) in pairs.items():
        assert (ours.lowercase, ours.strip_accents, ours.tokenize_chinese_chars) == expected[
            name
        ]
    # Different settings, different ids: the comparisons above cover each path.
    uncased, cased = pairs["uncased"][0], pairs["cased"][0]
    assert our_ids(uncased, ["Café"]) != our_ids(cased, ["Café"])


def test_special_ids_are_read_from_the_vocabulary(pairs):
    ours, theirs = pairs["uncased"]
    assert (ours.pad_id, ours.unknown_id, ours.start_id, ours.end_id, ours.mask_id) == (
        0,
        100,
        101,
        102,
        103,
    )
    assert ours.start_id == theirs.cls_token_id and ours.end_id == theirs.sep_token_id
    assert ours.vocabulary_size == len(theirs)


def test_encode_adds_cls_sep_and_pads_as_hugging_face(pairs, texts):
    ours, theirs = pairs["uncased"]
    sample = texts[:300]
    encoded = ours.encode(sample, 64, add_start=True, add_end=True).numpy().tolist()
    expected = theirs(sample, padding="max_length", truncation=True, max_length=64)
    assert encoded == expected["input_ids"]


@pytest.mark.parametrize("clean_up", [False, True])
def test_detokenize_equals_hugging_face_decode(bert_folders, texts, clean_up):
    ours = load_huggingface_tokenizer(bert_folders["uncased"])
    ours = WordPieceTokenizer.from_config(
        {**ours.get_config(), "clean_up_tokenization_spaces": clean_up}
    )
    theirs = transformers.BertTokenizerFast.from_pretrained(str(bert_folders["uncased"]))
    ids = our_ids(ours, texts)
    # Hugging Face drops every special token; here [UNK] renders as U+FFFD, [MASK]
    # as itself and [SEP] ends the text.
    special = {ours.unknown_id, ours.mask_id, ours.start_id, ours.end_id, ours.pad_id}
    comparable = [(t, i) for t, i in zip(texts, ids) if not special & set(i)]
    assert len(comparable) > 500
    decoded = ours.detokenize(tf.ragged.constant([i for _, i in comparable], tf.int32))
    expected = [
        theirs.decode(i, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up)
        for _, i in comparable
    ]
    assert [text.decode("utf-8") for text in decoded.numpy()] == expected


def test_detokenize_renders_unknown_and_stops_at_sep(pairs):
    ours, _ = pairs["uncased"]
    cat = ours.token_to_id("c")
    ids = [[ours.start_id, cat, ours.unknown_id, ours.end_id, cat, ours.pad_id]]
    assert ours.detokenize(ids).numpy().tolist() == ["c \ufffd".encode()]


def test_text_special_tokens_map_to_their_ids(pairs):
    ours, theirs = pairs["uncased"]
    for text in ["a [MASK] b", "x[SEP]y[CLS]", "[mask] stays text", "[[MASK]]"]:
        assert our_ids(ours, [text]) == huggingface_ids(theirs, [text])
    assert ours.mask_id in our_ids(ours, ["[MASK]"])[0]


def test_long_words_become_unknown(pairs):
    ours, theirs = pairs["cased"]
    for length in (99, 100, 101):
        text = "é" * length  # 2 bytes a character: the limit counts characters
        assert our_ids(ours, [text]) == huggingface_ids(theirs, [text])
    assert our_ids(ours, ["é" * 101]) == [[ours.unknown_id]]


def test_invalid_utf8_becomes_replacement_characters_which_are_deleted(pairs):
    ours, _ = pairs["uncased"]
    assert our_ids(ours, [b"a\xffb"]) == our_ids(ours, ["ab"])


def test_runs_in_tf_data_and_a_tf_function(pairs, texts):
    ours, _ = pairs["uncased"]
    sample = texts[:64]
    expected = ours.encode(sample, 32, add_start=True, add_end=True).numpy()
    dataset = tf.data.Dataset.from_tensor_slices(sample).batch(16)
    dataset = dataset.map(lambda batch: ours.encode(batch, 32, add_start=True, add_end=True))
    batches = [batch.numpy() for batch in dataset]
    assert [row.tolist() for batch in batches for row in batch] == expected.tolist()
    graph = tf.function(lambda batch: ours.tokenize(batch).to_tensor(-1))
    assert (
        graph(tf.constant(sample)).numpy().tolist()
        == ours.tokenize(sample).to_tensor(-1).numpy().tolist()
    )


def test_config_holds_everything(pairs, tmp_path, texts):
    ours, _ = pairs["strip_accents_only"]
    config = ours.get_config()
    assert config["vocabulary"][100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    rebuilt = WordPieceTokenizer.from_config(config)
    sample = texts[:200]
    assert our_ids(rebuilt, sample) == our_ids(ours, sample)
    path = tmp_path / "wordpiece.keras"
    keras.saving.save_model(ours, path)
    assert our_ids(keras.saving.load_model(path), sample) == our_ids(ours, sample)


def test_vocabulary_from_a_file(bert_folders):
    tokenizer = WordPieceTokenizer(str(bert_folders["uncased"] / "vocab.txt"))
    assert tokenizer.vocabulary[:2] == ["[PAD]", "[unused0]"]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"vocabulary": 3}, "vocabulary"),
        ({"vocabulary": ["[UNK]", "a", "a"]}, "vocabulary"),
        ({"vocabulary": ["[UNK]", ""]}, "vocabulary"),
        ({"unknown_token": "<unk>"}, "unknown_token"),
        ({"mask_token": "<mask>"}, "mask_token"),
        ({"lowercase": "yes"}, "lowercase"),
        ({"strip_accents": 1}, "strip_accents"),
        ({"max_characters_per_word": 0}, "max_characters_per_word"),
        ({"suffix_indicator": ""}, "suffix_indicator"),
    ],
)
def test_rejects_bad_arguments(kwargs, name):
    arguments = {"vocabulary": [*SPECIAL_TOKENS, "a"], **kwargs}
    with pytest.raises(ValueError, match=rf"Received: {name}"):
        WordPieceTokenizer(**arguments)


def test_comparison_texts_hold_what_they_should(texts):
    """The comparisons cover the hard cases (a guard on `texts.py`)."""
    joined = "".join(texts)
    for fragment in ["é", "e\u0301", "İ", "汉", "👩\u200d👩", "\t", "\x00", "\u3000", "[MASK]"]:
        assert fragment in joined
    assert "" in texts and max(len(t) for t in texts) >= 3000
    assert sum(not has_special_token(t, SPECIAL_TOKENS) for t in texts) > 1000
