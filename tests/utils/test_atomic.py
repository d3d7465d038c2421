import doctest
import os

import pytest

from transformer_keras.utils.atomic import (
    atomic_directory,
    atomic_file,
    remove_stale_temporaries,
)


def siblings(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_atomic_directory_publishes_only_on_success(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as staging:
        (staging / "part").write_text("new")
        assert staging.parent == tmp_path and staging.name.startswith(".model.tmp-")
        assert not target.exists()  # nothing under the final name while writing
    assert (target / "part").read_text() == "new"
    assert siblings(target) == ["model"]


def test_atomic_directory_replaces_a_previous_version_whole(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as staging:
        (staging / "old_only").write_text("1")
    with atomic_directory(target) as staging:
        (staging / "new_only").write_text("2")
    assert sorted(os.listdir(target)) == ["new_only"]
    assert siblings(target) == ["model"]


def test_a_failure_while_writing_keeps_the_previous_version(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as staging:
        (staging / "weights").write_text("v1")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_directory(target) as staging:
            (staging / "weights").write_text("half of v2")
            raise RuntimeError("disk full")
    assert (target / "weights").read_text() == "v1"
    assert siblings(target) == ["model"]


def test_a_crash_between_the_two_renames_leaves_no_model_then_recovers(tmp_path, monkeypatch):
    """Replacing a directory takes two renames; dying between them loses the name only."""
    target = tmp_path / "model"
    with atomic_directory(target) as staging:
        (staging / "weights").write_text("v1")
    real_replace = os.replace
    calls = []

    def replace_then_die(source, destination):
        calls.append(destination)
        if len(calls) == 2:  # the old version is already moved aside
            raise KeyboardInterrupt("killed")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(target) as staging:
            (staging / "weights").write_text("v2")
    monkeypatch.setattr(os, "replace", real_replace)
    assert not target.exists()  # none under the final name, never a partial one
    leftovers = [name for name in siblings(target) if name.startswith(".model.old-")]
    assert len(leftovers) == 1 and (tmp_path / leftovers[0] / "weights").read_text() == "v1"
    with atomic_directory(target) as staging:
        (staging / "weights").write_text("v3")
    assert siblings(target) == ["model"]  # the next write cleaned up


def test_stale_temporaries_of_the_same_name_only_are_removed(tmp_path):
    (tmp_path / ".model.tmp-abc").mkdir()
    (tmp_path / ".model.tmp-abc" / "saved_model.pb").write_bytes(b"partial")
    (tmp_path / ".model.keras.tmp-xyz.keras").write_bytes(b"partial")
    (tmp_path / ".model.old-def").mkdir()
    (tmp_path / ".other.tmp-abc").mkdir()
    removed = remove_stale_temporaries(tmp_path / "model")
    assert sorted(p.name for p in removed) == [".model.old-def", ".model.tmp-abc"]
    remove_stale_temporaries(tmp_path / "model.keras")
    assert sorted(os.listdir(tmp_path)) == [".other.tmp-abc"]


def test_atomic_file_keeps_the_suffix_and_replaces_atomically(tmp_path):
    target = tmp_path / "sub" / "model.keras"
    with atomic_file(target) as staging:
        assert staging.suffix == ".keras" and staging.name.startswith(".model.keras.tmp-")
        staging.write_text("v1")
    with pytest.raises(ValueError, match="bad"):
        with atomic_file(target) as staging:
            staging.write_text("partial v2")
            raise ValueError("bad")
    assert target.read_text() == "v1"
    assert os.listdir(target.parent) == ["model.keras"]


def test_paths_of_the_wrong_kind_are_rejected(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is not a directory. Received: path="):
        with atomic_directory(tmp_path / "file"):
            pass
    with pytest.raises(ValueError, match="is a directory, expected a file. Received: path="):
        with atomic_file(tmp_path):
            pass


def test_docstring_examples_run():
    from transformer_keras.utils import atomic

    assert doctest.testmod(atomic).failed == 0
