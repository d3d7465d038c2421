"""Where the shared, read-only corpora live (`shared/data`, see its README.md).

The folder is `$TRANSFORMER_KERAS_DATA` when that is set, otherwise
`<repository root>/../shared/data`. Code never copies data into the repository
and never downloads it.
"""

import os
from pathlib import Path

ENVIRONMENT_VARIABLE = "TRANSFORMER_KERAS_DATA"


def default_shared_data_dir():
    """`<repository root>/../shared/data` (meaningful for a source checkout)."""
    repository_root = Path(__file__).resolve().parents[2]
    return repository_root.parent / "shared" / "data"


def shared_data_dir():
    """The shared data folder.

    Returns:
        A `pathlib.Path` to an existing folder.

    Raises:
        FileNotFoundError: the folder does not exist; the message names both
            the environment variable's value and the default location.

    Example:
    >>> (shared_data_dir() / "README.md").is_file()  # doctest: +SKIP
    True
    """
    configured = os.environ.get(ENVIRONMENT_VARIABLE)
    default = default_shared_data_dir()
    folder = Path(configured).expanduser() if configured else default
    if not folder.is_dir():
        setting = f"is '{configured}'" if configured else "is not set"
        raise FileNotFoundError(
            f"The shared data folder '{folder}' does not exist: ${ENVIRONMENT_VARIABLE} "
            f"{setting} and the default is '{default}'. Point ${ENVIRONMENT_VARIABLE} at "
            "the folder that holds the datasets (shared/data)."
        )
    return folder


def shared_data_file(relative):
    """A file inside the shared data folder, e.g. `"multi30k/train.de"`.

    Args:
        relative: a path relative to the shared data folder.

    Returns:
        The `pathlib.Path` of an existing file.

    Raises:
        ValueError: `relative` is absolute or climbs out with `..`.
        FileNotFoundError: the folder or the file does not exist.

    Example:
    >>> shared_data_file("tinyshakespeare/input.txt").name  # doctest: +SKIP
    'input.txt'
    """
    relative_path = Path(relative)
    if relative_path.is_absolute() or ".." in relative_path.parts:
        raise ValueError(
            "`relative` must be a path inside the shared data folder. "
            f"Received: relative={str(relative)!r}"
        )
    folder = shared_data_dir()
    path = folder / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"No file '{relative}' in the shared data folder '{folder}'.")
    return path
