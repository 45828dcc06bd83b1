"""One handler: the packaged folder is what the repository's model_code/ points at, what
`lmi local` serves by default and what ModelCode.packaged() bundles; an install without it says
how to repair it."""

from __future__ import annotations

import pytest

from lmi_constructs.cli.main import main
from lmi_constructs.container import handler_files

from .fresh_install import ROOT


def test_model_code_in_the_repository_is_the_packaged_handler():
    assert (ROOT / "model_code").is_symlink()
    assert (ROOT / "model_code").resolve() == handler_files.handler_directory()


def test_lmi_local_defaults_to_the_packaged_handler(tmp_path, monkeypatch, capsys):
    """Pointed at an empty folder, `lmi local --demo` refuses it by the packaged path's name,
    before loading anything: it looked there, not at ./model_code."""
    monkeypatch.setattr(handler_files, "HANDLER_DIRECTORY", tmp_path)
    monkeypatch.chdir(ROOT)  # a model_code/ beside it is not what it serves
    assert main(["local", "--demo"]) == 2
    assert f"no model.py, serving.properties in {tmp_path}" in capsys.readouterr().err


def test_model_code_packaged_bundles_the_packaged_handler():
    from lmi_constructs import ModelCode

    assert ModelCode.packaged().directory == handler_files.handler_directory()


def test_an_install_without_the_handler_names_the_fix(tmp_path, monkeypatch):
    (tmp_path / "model.py").write_text("")
    monkeypatch.setattr(handler_files, "HANDLER_DIRECTORY", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no serving\.properties in .*force-reinstall"):
        handler_files.handler_directory()
