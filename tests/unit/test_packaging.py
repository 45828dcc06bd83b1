"""The model.tar.gz is byte-identical across runs, checkouts and file timestamps."""

import hashlib
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from lmi_constructs.container.packaging import build_tarball

MODEL_CODE = Path(__file__).resolve().parents[2] / "model_code"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_bytes_from_another_checkout_with_other_mtimes(tmp_path):
    first = build_tarball(MODEL_CODE, tmp_path / "a" / "model.tar.gz")
    copy = tmp_path / "checkout" / "model_code"
    shutil.copytree(MODEL_CODE, copy)
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000_000, 1_234_567_890))  # another clone, another time
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"build leftover")
    second = build_tarball(copy, tmp_path / "b" / "model.tar.gz")
    assert digest(first) == digest(second)


def test_entries_sorted_and_normalised(tmp_path):
    tarball = build_tarball(MODEL_CODE, tmp_path / "model.tar.gz")
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
    names = [member.name for member in members]
    assert names == sorted(names)
    assert {"model.py", "serving.properties", "lmi_handler/s3_access.py"} <= set(names)
    # Nothing is pip-installed at container start: the container may have no route to PyPI.
    assert "requirements.txt" not in names
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
    raw = tarball.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip header mtime is zero


def test_content_change_changes_the_bytes(tmp_path):
    copy = tmp_path / "code"
    shutil.copytree(MODEL_CODE, copy)
    before = digest(build_tarball(copy, tmp_path / "1.tar.gz"))
    (copy / "serving.properties").write_text("engine=Python\n")
    assert digest(build_tarball(copy, tmp_path / "2.tar.gz")) != before


def test_missing_or_empty_directory(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        build_tarball(tmp_path / "nope", tmp_path / "x.tar.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no files"):
        build_tarball(tmp_path / "empty", tmp_path / "x.tar.gz")


def test_rendered_contents_replace_a_files_bytes(tmp_path):
    rendered = b"engine=DeepSpeed\noption.tensor_parallel_degree=8\n"
    tarball = build_tarball(
        MODEL_CODE, tmp_path / "model.tar.gz", contents={Path("serving.properties"): rendered}
    )
    with tarfile.open(tarball) as tar:
        assert tar.extractfile("serving.properties").read() == rendered


def test_a_symbolic_link_is_refused_not_followed(tmp_path):
    code = tmp_path / "code"
    shutil.copytree(MODEL_CODE, code)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the bundle")
    (code / "notes.txt").symlink_to(secret)
    with pytest.raises(ValueError, match="notes.txt: is a symbolic link"):
        build_tarball(code, tmp_path / "x.tar.gz")
    (code / "notes.txt").unlink()
    (code / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ValueError, match="linked_dir: is a symbolic link"):
        build_tarball(code, tmp_path / "y.tar.gz")
