"""Which files a batch reads and where it writes them: paths, folders and globs in, one output each.

A folder contributes its image files (by suffix, not recursing, hidden files left out); a glob
its image files; a file given by name is taken whatever its suffix (if it is not an image, its row
says so). Outputs keep the input's name in the output folder, so two inputs with one name, and
an output folder that holds inputs or the clean references, are refused before anything runs.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from sparse_dip.errors import InputError
from sparse_dip.images import output_suffix

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".webp", ".pgm", ".ppm")


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def expand(paths: Sequence[str | Path]) -> list[Path]:
    """The image files that ``paths`` (files, folders, globs) name, in order, each once."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.is_file() and _is_image_name(p))
            if not images:
                raise InputError(f"{path}: no image files in this folder ({', '.join(IMAGE_SUFFIXES)})")
            found += images
        elif path.exists() or not glob.has_magic(str(given)):
            found.append(path)  # a missing file is reported in its own row; the others still run
        else:
            matches = sorted(Path(p) for p in glob.glob(str(given)) if Path(p).is_file() and _is_image_name(Path(p)))
            if not matches:
                raise InputError(f"{given}: no image file matches")
            found += matches
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def output_for(image: Path, out_dir: Path) -> Path:
    """Where a batch writes ``image``'s result: its own name in ``out_dir`` (TIFF stays TIFF)."""
    return out_dir / f"{image.stem}{output_suffix(image)}"


def check_outputs(images: Sequence[Path], outputs: Sequence[Path]) -> None:
    """Refuse two inputs writing one output (or one report), or an output that is an input."""
    inputs = {image.resolve() for image in images}
    seen: dict[Path, Path] = {}
    for image, out in zip(images, outputs):
        for target in (out, out.with_suffix(".json")):
            resolved = target.resolve()
            if resolved in inputs:
                raise InputError(f"{target}: the output folder would overwrite an input; choose another --out-dir")
            if resolved in seen:
                raise InputError(f"{seen[resolved]} and {image} would both write {target}; rename one")
            seen[resolved] = image


def clean_for(image: Path, clean_dir: Path | None) -> Path | None:
    """The clean reference of ``image`` in ``clean_dir``: the same file name, else the same stem
    with any image suffix; None when there is none."""
    if clean_dir is None:
        return None
    same = clean_dir / image.name
    if same.is_file():
        return same
    for candidate in sorted(clean_dir.glob(f"{glob.escape(image.stem)}.*")):
        if candidate.is_file() and _is_image_name(candidate):
            return candidate
    return None


def check_folders(images: Sequence[Path], out_dir: Path, clean_dir: Path | None) -> None:
    """Refuse an output folder that holds inputs (a rerun would take the outputs for inputs) or
    that is the folder of clean references."""
    target = out_dir.resolve()
    if any(image.parent.resolve() == target for image in images):
        raise InputError(f"{out_dir}: holds input images; choose another --out-dir")
    if clean_dir is not None and clean_dir.resolve() == target:
        raise InputError(f"{out_dir}: is the --clean-dir; choose another --out-dir")
