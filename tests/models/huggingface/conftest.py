"""The tokenizer folders of `tests/text/pretrained` (real vocabularies, trained offline)."""

from tests.text.pretrained.conftest import (  # noqa: F401  (fixtures)
    bert_folders,
    gpt2_folder,
    marian_folder,
    texts,
    wordpiece_vocabulary,
)
