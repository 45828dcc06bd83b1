"""Deterministic model.tar.gz: the same bytes on every run and machine.

Sorted entries, zero mtimes and owners, one mode for every file (0644: DJL imports the handler,
it executes nothing), gzip header without name or mtime. The asset hash is the content digest
(ModelCode), so neither a chmod nor another zlib build changes it.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path
from typing import Iterable, List, Mapping, Optional

from ..spec import SpecError, Violation

# Build leftovers that must not change the bundle.
EXCLUDED_NAMES = {"__pycache__", ".git", ".DS_Store", ".ipynb_checkpoints"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def bundle_files(source: Path) -> List[Path]:
    """Files under source that go into the bundle, relative and sorted. A symbolic link is
    refused: it would pack whatever it points at, anywhere on the machine."""
    found = []
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_NAMES)
        for name in [*dirs, *files]:
            if Path(root, name).is_symlink():
                raise SpecError(
                    [
                        Violation(
                            "model_code",
                            str(Path(root, name)),
                            "is a symbolic link (links are not followed)",
                            "copy the file into the directory instead",
                        )
                    ],
                    subject="model code",
                )
        for name in files:
            if name in EXCLUDED_NAMES or name.endswith(EXCLUDED_SUFFIXES):
                continue
            found.append(Path(root, name).relative_to(source))
    return sorted(found, key=lambda p: p.as_posix())


def _tar_info(relative: Path, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(relative.as_posix())
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    return info


def build_tarball(
    source: Path,
    destination: Path,
    files: Optional[Iterable[Path]] = None,
    contents: Optional[Mapping[Path, bytes]] = None,
) -> Path:
    """Write source's files into destination (a .tar.gz) deterministically; return destination.
    contents: bytes to write instead of a file's own (a rendered serving.properties)."""
    source = Path(source)
    if not source.is_dir():
        raise SpecError(
            [
                Violation(
                    "model_code",
                    str(source),
                    "does not exist or is not a directory",
                    "pass the folder holding model.py",
                )
            ],
            subject="model code",
        )
    files = list(files) if files is not None else bundle_files(source)
    if not files:
        raise SpecError(
            [
                Violation(
                    "model_code",
                    str(source),
                    "holds no files to bundle",
                    "pass the folder holding model.py",
                )
            ],
            subject="model code",
        )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for relative in files:
            path = source / relative
            data = contents[relative] if contents and relative in contents else path.read_bytes()
            info = _tar_info(relative, len(data))
            tar.addfile(info, io.BytesIO(data))
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())
    return destination
