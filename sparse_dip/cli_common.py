"""What every command shares: one-line errors, notices, output paths, progress bars."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

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
