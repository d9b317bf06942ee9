"""Whether a stored mask fits a run: the generator it was found on, checked against the image.

A mask is over the weights of one generator (its configuration, its depth, the seed of its
weights). A mask file records them; a run that reuses it rebuilds that generator, which must be
the one the run's own configuration would build at that depth, for an image with as many
channels and large enough for that depth.
"""

from __future__ import annotations

from sparse_dip.errors import InputError
from sparse_dip.generators.hourglass import HourglassConfig, levels_for
from sparse_dip.pruning.mask_file import MaskFile, MaskFileError


def stored_generator(
    mask: MaskFile, image_size: tuple[int, int], channels: int, wanted: HourglassConfig
) -> HourglassConfig:
    """The generator ``mask`` was found on, checked against an image of ``image_size`` with
    ``channels`` channels and against ``wanted``, the generator the run builds (all levels)."""
    try:
        stored = HourglassConfig.from_dict(mask.info["generator"])
    except (KeyError, TypeError, ValueError):
        raise MaskFileError("the mask file does not say which generator it is for") from None
    if stored.out_channels != channels:
        raise InputError(f"the mask is for {stored.out_channels}-channel images, this image has {channels} channel(s)")
    if stored.levels > wanted.levels:
        raise InputError(f"the mask is for a {stored.levels}-level generator, the run allows {wanted.levels}")
    wanted = wanted.with_levels(stored.levels)
    if wanted != stored:
        differences = ", ".join(
            f"{k} {v} (run: {wanted.to_dict()[k]})" for k, v in stored.to_dict().items() if wanted.to_dict()[k] != v
        )
        raise InputError(f"the mask is for another generator: {differences}")
    height, width = image_size
    if levels_for(height, width, stored.levels) < stored.levels:
        raise InputError(
            f"the mask is for a {stored.levels}-level generator, which needs images of at least "
            f"{3 * 2**stored.levels} px a side; this one is {height}x{width}"
        )
    return stored
