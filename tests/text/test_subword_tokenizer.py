import doctest
import io
import time

import keras
import pytest
import sentencepiece
import tensorflow as tf

from transformer_keras.text import SubwordTokenizer

pytestmark = pytest.mark.tf_only


@pytest.fixture(scope="module")
def joint_tokenizer(trained_tokenizers):
    """Trained on English and German Multi30k lines (see conftest.py)."""
    return trained_tokenizers["subword"]


def decoded(tokenizer, texts):
    return [text.decode("utf-8") for text in tokenizer.detokenize(tokenizer(texts)).numpy()]


def test_round_trip_is_exact_on_the_training_text(joint_tokenizer, english_lines, german_lines):
    texts = english_lines + german_lines
    assert decoded(joint_tokenizer, texts) == texts


def test_joint_vocabulary_covers_both_languages(joint_tokenizer):
    texts = ["Two men are at the stove.", "Zwei Männer stehen am Herd und grüßen."]
    ids = joint_tokenizer(texts)
    assert joint_tokenizer.unknown_id not in ids.flat_values.numpy().tolist()
    assert decoded(joint_tokenizer, texts) == texts
    pieces = {joint_tokenizer.id_to_token(i) for i in range(joint_tokenizer.vocabulary_size)}
    assert {"ä", "ß", "▁the", "▁und"} <= pieces


def test_repeated_and_trailing_spaces_survive(joint_tokenizer):
    texts = ["a  man   in a  shirt ", "a man\ta dog"]
    assert decoded(joint_tokenizer, texts)[0] == texts[0]


def test_unseen_and_invalid_characters_become_the_unknown_id(joint_tokenizer):
    ids = joint_tokenizer(tf.constant(["汉", b"\xff"]))
    assert ids.to_list() == [[4, joint_tokenizer.unknown_id], [4, joint_tokenizer.unknown_id]]
    assert joint_tokenizer.id_to_token(4) == "▁"
    assert decoded(joint_tokenizer, ["a 汉 b"]) == ["a \ufffd b"]


def test_special_ids_follow_the_package_layout(joint_tokenizer):
    assert [joint_tokenizer.id_to_token(i) for i in range(4)] == [
        "[PAD]",
        "[UNK]",
        "[START]",
        "[END]",
    ]
    assert (joint_tokenizer.unknown_id, joint_tokenizer.start_id, joint_tokenizer.end_id) == (
        1,
        2,
        3,
    )
    assert 100 < joint_tokenizer.vocabulary_size <= 500


def test_bpe_model_type_round_trips(english_lines):
    tokenizer = SubwordTokenizer.train(english_lines, vocabulary_size=300, model_type="bpe")
    assert decoded(tokenizer, english_lines) == english_lines
    assert tokenizer.vocabulary_size == 300


def test_max_sentences_samples_the_corpus(english_lines):
    full = SubwordTokenizer.train(english_lines, vocabulary_size=2000)
    sampled = SubwordTokenizer.train(english_lines, vocabulary_size=2000, max_sentences=101)
    assert sampled.vocabulary_size < full.vocabulary_size


def test_training_is_deterministic(english_lines):
    first = SubwordTokenizer.train(english_lines[:100], vocabulary_size=200)
    second = SubwordTokenizer.train(english_lines[:100], vocabulary_size=200)
    assert first.proto == second.proto


def test_survives_keras_set_random_seed(joint_tokenizer):
    """tensorflow-text's resource dies with the eager kernel cache unless shared by name."""
    before = joint_tokenizer("A dog.").numpy().tolist()
    keras.utils.set_random_seed(1)
    assert joint_tokenizer("A dog.").numpy().tolist() == before


def test_config_holds_the_model(joint_tokenizer, tmp_path):
    config = joint_tokenizer.get_config()
    assert isinstance(config["proto"], str)  # base64, JSON-friendly
    from_config = SubwordTokenizer.from_config(config)
    assert from_config.proto == joint_tokenizer.proto
    assert from_config.vocabulary_size == joint_tokenizer.vocabulary_size
    path = tmp_path / "subword.keras"
    keras.saving.save_model(joint_tokenizer, path)
    restored = keras.saving.load_model(path)
    assert (
        restored("Ein Hund.").numpy().tolist() == joint_tokenizer("Ein Hund.").numpy().tolist()
    )


def test_proto_from_a_model_file(joint_tokenizer, tmp_path):
    path = tmp_path / "model.model"
    path.write_bytes(joint_tokenizer.proto)
    for proto in (str(path), path):
        from_file = SubwordTokenizer(proto=proto)
        assert (
            from_file("A dog.").numpy().tolist() == joint_tokenizer("A dog.").numpy().tolist()
        )
    assert SubwordTokenizer.from_config({"proto": str(path)}).proto == joint_tokenizer.proto


def test_rejects_bad_protos():
    with pytest.raises(ValueError, match=r"Received: proto="):
        SubwordTokenizer(proto=b"not a model")
    with pytest.raises(ValueError, match=r"Received: proto="):
        SubwordTokenizer(proto=123)
    with pytest.raises(ValueError, match=r"Received: proto="):
        SubwordTokenizer.from_config({"proto": "bm90IGEgbW9kZWw="})  # base64 of junk
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["a b c d e f"] * 10),
        model_writer=model,
        vocab_size=12,
        hard_vocab_limit=False,
    )  # SentencePiece's default layout: unk 0, bos 1, eos 2, no pad
    with pytest.raises(ValueError, match=r"Received: proto with pad_id=-1"):
        SubwordTokenizer(proto=model.getvalue())


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"vocabulary_size": 4}, "vocabulary_size"),
        ({"vocabulary_size": 10}, "vocabulary_size"),  # fewer than the characters
        ({"vocabulary_size": 50, "model_type": "word"}, "model_type"),
        ({"vocabulary_size": 50, "character_coverage": 1.5}, "character_coverage"),
        ({"vocabulary_size": 50, "max_sentences": 100}, "max_sentences"),
        ({"vocabulary_size": 50, "max_sentences": 1e6}, "max_sentences"),
    ],
)
def test_train_rejects_bad_arguments(english_lines, kwargs, name):
    with pytest.raises(ValueError, match=rf"Received: {name}="):
        SubwordTokenizer.train(english_lines[:20], **kwargs)


def test_train_rejects_an_empty_corpus():
    with pytest.raises(ValueError, match=r"Received: vocabulary_size="):
        SubwordTokenizer.train(["", ""], vocabulary_size=50)


@pytest.mark.slow
def test_trains_on_a_full_corpus_in_seconds(all_english_lines):
    start = time.perf_counter()
    tokenizer = SubwordTokenizer.train(all_english_lines, vocabulary_size=8000)
    seconds = time.perf_counter() - start
    assert len(all_english_lines) == 29_000
    assert seconds < 120, f"training took {seconds:.0f} s"
    assert 7000 < tokenizer.vocabulary_size <= 8000
    assert decoded(tokenizer, all_english_lines[-50:]) == all_english_lines[-50:]


def test_docstring_examples_run():
    from transformer_keras.text import subword_tokenizer

    for module in (subword_tokenizer,):
        assert doctest.testmod(module).failed == 0
