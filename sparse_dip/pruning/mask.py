"""The mask: which weights of a model are kept, keyed by parameter name.

A :class:`Mask` is a checked value (boolean tensors, one per maskable parameter) with its
density report. :func:`top_k` turns any per-parameter scores into a mask with exactly the
requested number of kept entries, globally or per layer, with deterministic tie-breaking
(the lower flat index wins) and with already-pruned entries staying pruned. Every pruning
method in sparse-dip (OES, magnitude, SNIP, GraSP, SynFlow, IMP) ends in this function.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

import torch
from torch import nn

Scope = Literal["global", "layer"]


class Mask(Mapping[str, torch.Tensor]):
    """A boolean keep-mask: ``{parameter name: bool tensor of the parameter's shape}``.

    Parameter names are the model's own (``model.named_parameters()`` before any mask is
    applied), so a mask is independent of how it is enforced.
    """

    def __init__(self, entries: Mapping[str, torch.Tensor]) -> None:
        for name, value in entries.items():
            if value.dtype != torch.bool:
                raise TypeError(f"mask entry {name!r} must be boolean, got {value.dtype}")
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total(self) -> int:
        return sum(v.numel() for v in self._entries.values())

    @property
    def kept(self) -> int:
        return int(sum(v.sum() for v in self._entries.values()))

    @property
    def density(self) -> float:
        """The kept fraction over all masked entries."""
        return self.kept / max(self.total, 1)

    def density_per_layer(self) -> dict[str, float]:
        """The kept fraction of each masked parameter, in model order."""
        return {n: float(v.float().mean()) for n, v in self._entries.items()}

    def check_against(self, model: nn.Module) -> None:
        """Raise ``ValueError`` unless every entry names a parameter of ``model`` with the same shape."""
        params = dict(model.named_parameters())
        for name, value in self._entries.items():
            if name not in params:
                raise ValueError(f"the mask names {name!r}, which the model does not have")
            if params[name].shape != value.shape:
                raise ValueError(
                    f"the mask for {name!r} has shape {tuple(value.shape)}, "
                    f"the model's parameter {tuple(params[name].shape)}"
                )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mask) or list(self) != list(other):
            return False
        return all(torch.equal(self[n], other[n].to(self[n].device)) for n in self)

    def __repr__(self) -> str:
        return f"Mask({len(self)} tensors, {self.kept}/{self.total} kept, density {self.density:.4f})"


def maskable_names(model: nn.Module, include: Literal["weights", "all"] = "weights") -> list[str]:
    """Names of the parameters a pruning method may mask.

    ``"weights"``: the weights of convolutions and linear layers (every parameter with two or
    more dimensions); ``"all"``: every parameter, biases and normalisation parameters included.
    """
    if include not in ("weights", "all"):
        raise ValueError(f"include must be 'weights' or 'all', got {include!r}")
    return [n for n, p in model.named_parameters() if include == "all" or p.dim() > 1]


def kept_count(density: float, total: int) -> int:
    """The exact number of entries kept at ``density``: ``round(density * total)``."""
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    return int(round(density * total))  # noqa: RUF046 (a 0-d tensor density rounds to a tensor)


def _keep_top(flat_scores: torch.Tensor, k: int) -> torch.Tensor:
    """A boolean vector keeping the ``k`` highest scores; ties go to the lower index.

    Selection, not a sort: the k-th highest value is found with ``kthvalue`` (linear time),
    everything above it is kept and the ties at it are taken in index order.
    """
    n = flat_scores.numel()
    if k <= 0:
        return torch.zeros_like(flat_scores, dtype=torch.bool)
    if k >= n:
        return torch.ones_like(flat_scores, dtype=torch.bool)
    threshold = torch.kthvalue(flat_scores.cpu(), n - k + 1).values.to(flat_scores.device)
    keep = flat_scores > threshold
    missing = k - int(keep.sum())
    ties = torch.nonzero(flat_scores == threshold).flatten()[:missing]
    keep[ties] = True
    return keep


def top_k(
    scores: Mapping[str, torch.Tensor],
    density: float,
    scope: Scope = "global",
    previous: Mask | None = None,
) -> Mask:
    """Keep exactly ``round(density * N)`` entries with the highest scores.

    ``scope="global"`` ranks all entries together; ``"layer"`` keeps ``round(density * n)`` of
    each tensor's ``n`` entries. NaN scores rank lowest. Entries that ``previous`` prunes stay
    pruned: asking for more entries than ``previous`` keeps is an error.
    """
    names = list(scores)
    if previous is not None and set(previous) != set(names):
        raise ValueError("the previous mask covers other parameters than the scores")

    def ranked(name: str) -> torch.Tensor:
        s = scores[name].detach().flatten().float().nan_to_num(nan=-torch.inf)
        if previous is not None:
            s = s.masked_fill(~previous[name].flatten().to(s.device), -torch.inf)
        return s

    if scope == "global":
        flat = torch.cat([ranked(n) for n in names])
        k = kept_count(density, flat.numel())
        _check_room(k, previous)
        keep = _keep_top(flat, k).split([scores[n].numel() for n in names])
        return Mask({n: kv.view_as(scores[n]) for n, kv in zip(names, keep)})
    if scope == "layer":
        entries = {}
        for n in names:
            k = kept_count(density, scores[n].numel())
            if previous is not None and k > int(previous[n].sum()):
                raise ValueError(f"{n!r}: cannot keep {k} entries, the previous mask keeps {int(previous[n].sum())}")
            entries[n] = _keep_top(ranked(n), k).view_as(scores[n])
        return Mask(entries)
    raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")


def _check_room(k: int, previous: Mask | None) -> None:
    if previous is not None and k > previous.kept:
        raise ValueError(f"cannot keep {k} entries: the previous mask keeps only {previous.kept}")
