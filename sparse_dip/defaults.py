"""The defaults a user sees on the command line, in one torch-free place.

The configuration dataclasses take their defaults from here and ``--help`` shows them from
here, so the two cannot disagree and ``sparse-dip --help`` needs no torch import. Why each
value was chosen, and what it measured, is in ``BENCHMARKS.md``.
"""

SPARSITY = 0.95
"""Fraction of the generator's maskable weights removed (``DenoiseConfig.sparsity``)."""

MASK_STEPS = 1200
"""Adam steps of the OES mask search (``OESConfig.steps``)."""

FIT_STEPS = 1300
"""Most fitting steps (``FitConfig.steps``); the stopping rule usually ends the fit sooner."""

IMP_STEPS = 1000
"""Fitting steps per IMP level on the DIP generator (``BaselineConfig.imp_steps``)."""

SYNFLOW_ROUNDS = 100
"""SynFlow's pruning rounds on an exponential density schedule."""

TOST_LABEL_SMOOTHING = 0.1
"""Label smoothing in ToST's recipe (``ToSTConfig.label_smoothing``)."""

PRUNING_METHODS = ("oes", "oes-channels", "random", "magnitude", "snip", "grasp", "synflow", "imp", "profile")
"""The names in the pruning-method registry (:data:`sparse_dip.pruning.methods.METHODS`), for
help texts that must not import torch; ``tests/test_methods.py`` keeps the two equal."""

CLASSIFIER_PRUNING_METHODS = ("random", "magnitude", "snip", "grasp", "synflow", "oes")
"""Those that prune a classifier at initialisation (``sparse-dip classify prune``; IMP trains)."""
