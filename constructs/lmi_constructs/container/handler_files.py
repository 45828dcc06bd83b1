"""Where the DJL Serving handler shipped in this package lives: model.py, lmi_handler/ and
serving.properties, installed with the wheel as package data. In a clone the repository's
model_code/ is a link to the same folder, so the stacks, the tests and `lmi local` run one copy."""

from __future__ import annotations

from pathlib import Path

HANDLER_DIRECTORY = Path(__file__).resolve().parent.parent / "handler"
# What a usable handler folder holds (DJL Serving's entry point and the file it reads first).
REQUIRED_FILES = ("model.py", "serving.properties")


def handler_directory() -> Path:
    """The packaged handler folder, for `lmi local` and `ModelCode.packaged()`.

    Raises FileNotFoundError naming the missing file and the fix when an install lacks it (a
    wheel built without package data, or files deleted by hand).
    """
    missing = [name for name in REQUIRED_FILES if not (HANDLER_DIRECTORY / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"lmi-constructs has no {', '.join(missing)} in {HANDLER_DIRECTORY}: the install "
            "lacks the packaged handler; reinstall it (pip install --force-reinstall "
            "lmi-constructs) or pass your own handler folder"
        )
    return HANDLER_DIRECTORY
