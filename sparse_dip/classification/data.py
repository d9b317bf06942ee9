"""Datasets for the classifier experiments, all offline, held in memory as tensors.

- ``digits``: scikit-learn's bundled handwritten digits (1,797 real 8x8 grayscale images, 10
  classes), split 75/25 with a seeded, class-stratified shuffle. The default for CPU runs.
- ``cifar10`` / ``cifar100``: read from a local folder in the standard "python version" format
  (``cifar-10-batches-py/`` or ``cifar-100-python/``). Nothing is downloaded. Those files are
  pickles; they are read with an unpickler that only admits the numpy array constructors the
  format uses, so a tampered file cannot run code.
- ``synthetic``: Gaussian images around one random prototype per class, for unit tests.

Images are normalised with the training split's per-channel mean and standard deviation.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sparse_dip.errors import InputError

DATASETS = ("digits", "cifar10", "cifar100", "synthetic")


@dataclass
class Split:
    """Images ``[N, C, H, W]`` (float32, normalised) and integer labels ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Dataset:
    name: str
    train: Split
    test: Split
    classes: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one image."""
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]


def _normalised(train: np.ndarray, test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    mean = train.mean(axis=(0, 2, 3), keepdims=True)
    std = train.std(axis=(0, 2, 3), keepdims=True) + 1e-8
    return (
        torch.from_numpy(((train - mean) / std).astype(np.float32)),
        torch.from_numpy(((test - mean) / std).astype(np.float32)),
    )


def _dataset(name: str, x_train, y_train, x_test, y_test, classes: int) -> Dataset:
    train, test = _normalised(x_train.astype(np.float64), x_test.astype(np.float64))
    return Dataset(
        name,
        Split(train, torch.as_tensor(y_train, dtype=torch.long)),
        Split(test, torch.as_tensor(y_test, dtype=torch.long)),
        classes,
    )


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits, split per class with a seeded shuffle."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images, labels = bunch.images[:, None] / 16.0, bunch.target
    rng = np.random.default_rng(seed)
    test_index = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        test_index.extend(members[: round(test_fraction * len(members))])
    is_test = np.zeros(len(labels), bool)
    is_test[test_index] = True
    return _dataset("digits", images[~is_test], labels[~is_test], images[is_test], labels[is_test], 10)


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds numpy arrays and plain containers, and nothing else."""

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR file")
        if module == "_codecs":
            import codecs

            return codecs.encode
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def _read_batch(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            batch = _ArraysOnly(handle, encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as error:
        raise InputError(f"{path}: not a readable CIFAR batch ({error})") from None
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def load_cifar(data_dir: str | Path, classes: int = 10) -> Dataset:
    """CIFAR-10 or CIFAR-100 from ``data_dir`` (the folder holding ``cifar-10-batches-py`` or
    ``cifar-100-python``, or that folder itself)."""
    if classes not in (10, 100):
        raise ValueError(f"CIFAR has 10 or 100 classes, got {classes}")
    root = Path(data_dir)
    folder_name = "cifar-10-batches-py" if classes == 10 else "cifar-100-python"
    folder = root if root.name == folder_name else root / folder_name
    train_files = [folder / f"data_batch_{i}" for i in range(1, 6)] if classes == 10 else [folder / "train"]
    test_file = folder / ("test_batch" if classes == 10 else "test")
    missing = [p for p in [*train_files, test_file] if not p.is_file()]
    if missing:
        raise InputError(
            f"CIFAR-{classes} not found: {missing[0]} is missing (download the python version from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html and unpack it in {root})"
        )
    key = "labels" if classes == 10 else "fine_labels"

    def arrays(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        batches = [_read_batch(p) for p in paths]
        images = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([np.asarray(b[key]) for b in batches])
        return images / 255.0, labels

    x_train, y_train = arrays(train_files)
    x_test, y_test = arrays([test_file])
    return _dataset(f"cifar{classes}", x_train, y_train, x_test, y_test, classes)


def synthetic(
    train: int = 256, test: int = 128, shape: tuple[int, int, int] = (1, 8, 8), classes: int = 4, seed: int = 0
) -> Dataset:
    """Gaussian images around one random prototype per class (learnable, for tests)."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(classes, *shape))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, classes, n)
        return prototypes[labels] + rng.normal(scale=1.0, size=(n, *shape)), labels

    return _dataset("synthetic", *draw(train), *draw(test), classes)


def load_dataset(name: str, data_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """The dataset called ``name`` (:data:`DATASETS`); CIFAR needs ``data_dir``."""
    if name == "digits":
        return load_digits(seed=seed)
    if name in ("cifar10", "cifar100"):
        if data_dir is None:
            raise InputError(f"{name} is read from a local folder: give --data-dir")
        return load_cifar(data_dir, 10 if name == "cifar10" else 100)
    if name == "synthetic":
        return synthetic(seed=seed)
    raise InputError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
