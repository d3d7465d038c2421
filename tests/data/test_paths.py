from pathlib import Path

import pytest

from transformer_keras.data import paths
from transformer_keras.data.paths import (
    ENVIRONMENT_VARIABLE,
    default_shared_data_dir,
    shared_data_dir,
    shared_data_file,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_folder(tmp_path, monkeypatch):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "train.txt").write_text("hello\n")
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path))
    return tmp_path


def test_the_environment_variable_wins(data_folder):
    assert shared_data_dir() == data_folder
    assert shared_data_file("corpus/train.txt").read_text() == "hello\n"


def test_the_default_is_shared_data_beside_the_repository(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    assert default_shared_data_dir() == REPOSITORY_ROOT.parent / "shared" / "data"
    monkeypatch.setattr(paths, "default_shared_data_dir", lambda: REPOSITORY_ROOT)
    assert shared_data_dir() == REPOSITORY_ROOT


def test_a_missing_folder_names_the_variable_and_the_default(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(missing))
    with pytest.raises(FileNotFoundError) as error:
        shared_data_dir()
    message = str(error.value)
    assert f"$TRANSFORMER_KERAS_DATA is '{missing}'" in message
    assert str(default_shared_data_dir()) in message

    monkeypatch.delenv(ENVIRONMENT_VARIABLE)
    monkeypatch.setattr(paths, "default_shared_data_dir", lambda: missing)
    with pytest.raises(FileNotFoundError, match=f"is not set and the default is '{missing}'"):
        shared_data_dir()


def test_a_missing_file_names_the_folder(data_folder):
    with pytest.raises(
        FileNotFoundError, match=f"No file 'corpus/test.txt' .* '{data_folder}'"
    ):
        shared_data_file("corpus/test.txt")


@pytest.mark.parametrize("relative", ["/etc/passwd", "../outside.txt", "corpus/../../x"])
def test_paths_outside_the_folder_are_rejected(data_folder, relative):
    with pytest.raises(ValueError, match=f"Received: relative='{relative}'"):
        shared_data_file(relative)


@pytest.mark.skipif(not default_shared_data_dir().is_dir(), reason="no shared/data checkout")
def test_the_real_shared_folder_has_the_documented_files(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    assert shared_data_file("multi30k/val.de").stat().st_size == 75981  # data/README.md
