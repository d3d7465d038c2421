"""`read_json_vocabulary`: a `{token: id}` vocabulary, given or read from a `vocab.json`."""

import json
import pathlib


def read_json_vocabulary(vocabulary):
    """Checks a `{token: id}` vocabulary, reading it first when given a file path.

    Args:
        vocabulary: `{token: id}` or the path of a JSON file holding one.

    Returns:
        A new `{token: id}` dict.
    """
    if isinstance(vocabulary, str | pathlib.Path):
        with open(vocabulary, encoding="utf-8") as file:
            vocabulary = json.load(file)
    if (
        not isinstance(vocabulary, dict)
        or not vocabulary
        or not all(isinstance(token, str) for token in vocabulary)
        or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0
            for i in vocabulary.values()
        )
        or len(set(vocabulary.values())) != len(vocabulary)
    ):
        raise ValueError(
            "`vocabulary` must map tokens to distinct ids >= 0 (or be the path of a "
            f"vocab.json file). Received: vocabulary={vocabulary!r:.80}"
        )
    return dict(vocabulary)
