"""Output paths, checked before a run and written atomically: a file appears whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sparse_dip.errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, else delete it.

    The temporary name keeps ``path``'s suffix so that writers which pick a format from the
    suffix (Pillow) still do so. An interrupted write (an exception, Ctrl-C) leaves nothing.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=folder)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text``, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def output_folder(path: Path, inputs: list[Path]) -> Path:
    """``path`` as an output folder, created if missing; never an input file or an existing file."""
    for given in inputs:
        if given.exists() and path.resolve() == given.resolve():
            raise InputError(f"{path}: refusing to overwrite an input file")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{path}: cannot create folder ({error.strerror})") from None
    _check_writable(path)
    return path


def output_path(path: Path, inputs: list[Path]) -> Path:
    """``path``, once checked not to be an input, with its folder created if missing."""
    for given in inputs:
        if given.exists() and path.resolve() == given.resolve():
            raise InputError(f"{path}: refusing to overwrite an input file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{path}: cannot create folder {path.parent} ({error.strerror})") from None
    _check_writable(path.parent)
    return path


def _check_writable(folder: Path) -> None:
    """Fail now, not after a long run, if nothing can be written in ``folder``."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise InputError(f"cannot write in {folder} ({error.strerror or error})") from None
