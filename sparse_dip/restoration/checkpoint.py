"""Checkpoints of a restoration run: what it holds, and the check that it belongs to this run.

A checkpoint is plain tensors and numbers (``torch.save`` it, ``torch.load(...,
weights_only=True)`` it back): the run's settings and operator, the observation's SHA-256, the
mask and where it came from, and the fitting loop's own state (:func:`sparse_dip.restoration.fit.fit`).
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import torch

from sparse_dip.errors import InputError
from sparse_dip.files import atomic_path

FORMAT = 2  # 2: the model's state has plain parameter names (the mask is enforced by zeroing)


def fingerprint(observation: np.ndarray) -> str:
    """The SHA-256 of an observation's float32 pixels (what a checkpoint and a mask file record)."""
    return hashlib.sha256(np.ascontiguousarray(observation, dtype=np.float32).tobytes()).hexdigest()


def check_resumable(state: dict, settings: dict, operator: dict, image_hash: str) -> None:
    """Refuse a checkpoint made by another version, for another image or with other settings."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError("the checkpoint was written by another version of sparse-dip; start over")
    if state.get("image_sha256") != image_hash:
        raise InputError("the checkpoint is for another image; start over without --resume")
    if state.get("operator", {"name": "identity"}) != operator:
        raise InputError("the checkpoint is for another forward operator; start over without --resume")
    if state.get("settings") != settings:
        changed = sorted(k for k, v in settings.items() if state.get("settings", {}).get(k) != v)
        raise InputError(f"the checkpoint was made with other settings ({', '.join(changed)}); start over")


def save_checkpoint(path: Path, state: dict) -> None:
    """Write a checkpoint atomically (a crash while saving keeps the previous one)."""
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def load_checkpoint(path: Path) -> dict:
    """A checkpoint written by :func:`save_checkpoint`, loaded without running any code."""
    if not path.exists():
        raise InputError(f"--resume: no checkpoint at {path} (was the run started with --checkpoint-every?)")
    try:
        return torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, ValueError) as error:
        raise InputError(f"{path}: unreadable checkpoint ({str(error).splitlines()[0]})") from None
