"""The data term every fit and every data-driven mask search minimises: ``A(G(z))`` against ``y``.

With a forward operator ``A`` (:mod:`sparse_dip.physics`), the loss is the mean squared error
``mean((A(x) - y)^2)`` of the generated image ``x``; for denoising with a known noise level it
can instead be Stein's unbiased estimate of the error to the clean image
(:mod:`sparse_dip.restoration.sure`), which is defined for ``A = identity`` only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sparse_dip.generators.hourglass import crop
from sparse_dip.physics import Identity, Operator
from sparse_dip.restoration import sure

IDENTITY = Identity()


def mse(image: torch.Tensor, observation: torch.Tensor, operator: Operator = IDENTITY) -> torch.Tensor:
    """``mean((A(image) - observation)^2)`` over every value of the observation."""
    return torch.mean((operator(image) - observation) ** 2)


def data_loss(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    observation: torch.Tensor,
    sigma: float | None,
    generator: torch.Generator,
    operator: Operator = IDENTITY,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The data term of a fit of the images ``forward(inputs)`` to ``observation``, and the image.

    ``forward`` maps a batch of inputs to a batch of images. Without ``sigma``: :func:`mse`.
    With it (denoising only): :func:`~sparse_dip.restoration.sure.sure`, the generator
    evaluated at the input and at the input moved by ``EPSILON * sigma`` along a Gaussian
    probe, as one batch of two; the input must then be the observation (central crop).
    """
    if sigma is None:
        image = forward(inputs)
        return mse(image, observation, operator), image
    if not isinstance(operator, Identity):
        raise ValueError(f"the SURE objective is for denoising only, not for {operator.name}")
    probe = torch.randn(inputs.shape, generator=generator, device=inputs.device, dtype=inputs.dtype)
    epsilon = sure.EPSILON * sigma
    image, perturbed = forward(torch.cat([inputs, inputs + epsilon * probe]))[:, None]
    loss = sure.sure(image, perturbed, crop(probe, *observation.shape[-2:]), observation, sigma, epsilon)
    return loss, image
