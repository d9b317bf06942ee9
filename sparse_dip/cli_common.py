"""What every command shares: one-line errors, notices, output paths, progress bars."""

from __future__ import annotations

import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import typer

from sparse_dip.errors import InputError, Notice

APP_SETTINGS = dict(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich markup would eat bracketed text and show a placeholder beside every flag.
    rich_markup_mode=None,
)
"""Settings shared by the ``sparse-dip`` app and its ``classify`` group."""


def examples(*lines: str) -> str:
    """A help epilog listing example command lines, kept as written (click's ``\\b`` marker)."""
    return "\b\nExample" + ("s" if len(lines) > 1 else "") + ":\n" + "\n".join(f"  {line}" for line in lines)


def given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was set by the user, not left at its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"sparse-dip: error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def notices():
    """Show :class:`Notice` warnings as one line each on stderr once the command succeeds
    (a failed command shows only its error); pass other warnings through."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Notice)
        yield
    for warning in caught:
        if issubclass(warning.category, Notice):
            typer.echo(f"sparse-dip: note: {warning.message}", err=True)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


@contextmanager
def user_errors():
    """Turn expected failures into one line on stderr and a non-zero exit."""
    try:
        with notices():
            yield
    except InputError as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; no output was written (run the command again to start over)", 130)
    except MemoryError:
        fail("out of memory: try a smaller image or --device cuda")


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


@contextmanager
def progress_bars():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        transient=False,
    ) as progress:
        yield progress
