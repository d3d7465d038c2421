"""Crash-safe publishing of a directory or a file under its final name.

Everything is written into a hidden temporary sibling (same folder, so same
filesystem) named `.NAME.tmp-<random>`, flushed to disk, then moved into place
with `os.replace`, which is atomic for a file and for a directory moved onto a
free name. A directory cannot atomically replace a non-empty one on POSIX, so
a previous version is first moved aside to `.NAME.old-<random>` and deleted
after the new one is in place. Whenever a process dies, the final name holds
either the previous complete version, the new complete version, or (only
between those two renames) nothing; never a partial one.

Leftover temporaries of an earlier crash are removed at the next write of the
same name. One writer per name at a time is assumed.
"""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

_TEMPORARY_KINDS = ("tmp", "old")


def _temporary_prefix(path, kind):
    return f".{path.name}.{kind}-"


def remove_stale_temporaries(path):
    """Deletes `.NAME.tmp-*` and `.NAME.old-*` siblings of `path` left by a crash.

    Args:
        path: the final path of a directory or file.

    Returns:
        The list of removed paths.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for kind in _TEMPORARY_KINDS:
        for stale in path.parent.glob(_temporary_prefix(path, kind) + "*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
            else:
                stale.unlink()
            removed.append(stale)
    return removed


def _fsync(path, directory=False):
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(root):
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync(os.path.join(folder, name))
        _fsync(folder, directory=True)


@contextlib.contextmanager
def atomic_directory(path):
    """Yields an empty temporary directory that becomes `path` on success.

    On an exception the temporary directory is deleted and `path` is left as
    it was.

    Args:
        path: the final directory; its parent is created if needed.

    Yields:
        A `pathlib.Path` to fill.

    Example:
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "model"
    >>> with atomic_directory(target) as staging:
    ...     _ = (staging / "weights.txt").write_text("1 2 3")
    >>> (target / "weights.txt").read_text()
    '1 2 3'
    """
    path = Path(path).absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"`path` exists and is not a directory. Received: path='{path}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    staging = Path(tempfile.mkdtemp(prefix=_temporary_prefix(path, "tmp"), dir=path.parent))
    try:
        yield staging
        _fsync_tree(staging)
        if path.exists():
            retired = Path(
                tempfile.mkdtemp(prefix=_temporary_prefix(path, "old"), dir=path.parent)
            )
            os.replace(path, retired)  # `retired` is an empty directory: replaced atomically.
            os.replace(staging, path)
            shutil.rmtree(retired)
        else:
            os.replace(staging, path)
        _fsync(path.parent, directory=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(path):
    """Yields a temporary file path (same suffixes as `path`) that becomes `path` on success.

    The temporary name keeps the suffixes because some writers insist on them
    (`model.save` needs `.keras`, `save_weights` needs `.weights.h5`).

    Args:
        path: the final file; its parent is created if needed.

    Yields:
        A `pathlib.Path` to write (the file exists and is empty).

    Example:
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_file(target) as staging:
    ...     _ = staging.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path).absolute()
    if path.is_dir():
        raise ValueError(f"`path` is a directory, expected a file. Received: path='{path}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    descriptor, staging = tempfile.mkstemp(
        prefix=_temporary_prefix(path, "tmp"), suffix="".join(path.suffixes), dir=path.parent
    )
    os.close(descriptor)
    staging = Path(staging)
    try:
        yield staging
        _fsync(staging)
        os.replace(staging, path)
        _fsync(path.parent, directory=True)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
