"""Fingerprints of what a refactor must not change: outputs and masks for fixed seeds.

    git checkout OLD && python benchmarks/fingerprints.py > before.json
    git checkout NEW && python benchmarks/fingerprints.py > after.json && diff before.json after.json

Prints, as JSON, the SHA-256 (first 16 hex digits) of the denoised image and of the mask for
every DIP mask method on a 48x48 astronaut at sigma 25 (short budgets), and of the mask each
classifier method finds for the small CNN on digits at compression 20. One thread, CPU: equal
fingerprints mean byte-identical results on this machine. About 20 seconds.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import replace

import numpy as np
import torch
from skimage import data, transform

from sparse_dip.classification.data import load_digits
from sparse_dip.classification.models import build_classifier
from sparse_dip.classification.pruning import prune_classifier
from sparse_dip.images import add_gaussian_noise
from sparse_dip.pruning.imp import IMPConfig
from sparse_dip.pruning.mask import Mask
from sparse_dip.restoration.denoise import DenoiseConfig, denoise
from sparse_dip.restoration.masks import BaselineConfig

DIP_METHODS = ("oes", "random", "magnitude", "snip", "grasp", "synflow", "imp")
CLASSIFIER_METHODS = ("random", "magnitude", "snip", "grasp", "synflow")


def digest(*arrays: bytes) -> str:
    return hashlib.sha256(b"".join(arrays)).hexdigest()[:16]


def mask_digest(mask: Mask) -> str:
    return digest(*(mask[k].numpy().tobytes() for k in sorted(mask)))


def main() -> int:
    torch.set_num_threads(1)
    clean = transform.resize(data.astronaut(), (48, 48), anti_aliasing=True).astype(np.float32)
    noisy = add_gaussian_noise(clean, 25, seed=0)
    found = {}
    for method in DIP_METHODS:
        baseline = BaselineConfig(imp_steps=20, synflow_rounds=5, imp=IMPConfig(rate=0.5))
        base = DenoiseConfig(device="cpu", method=method, baseline=baseline)
        config = replace(base, oes=replace(base.oes, steps=20), fit=replace(base.fit, steps=30))
        result = denoise(noisy, config)
        found[method] = f"{digest(result.image.tobytes())} {mask_digest(result.mask)}"
    digits = load_digits()
    for method in CLASSIFIER_METHODS:
        torch.manual_seed(0)
        model = build_classifier("small_cnn", digits.shape[0], digits.classes)
        rounds = 5 if method == "synflow" else None
        found[f"classifier {method}"] = mask_digest(prune_classifier(model, method, 20.0, data=digits, rounds=rounds))
    json.dump(found, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
