"""Forward operators ``y = A(x)``: what the generator's output must explain after ``A``.

A new operator is one file here (a subclass of :class:`~sparse_dip.physics.base.Operator`) and
one line in :data:`OPERATORS`.
"""

from sparse_dip.physics.base import Operator
from sparse_dip.physics.blur import Blur, gaussian_kernel
from sparse_dip.physics.downsampling import Downsampling
from sparse_dip.physics.identity import Identity
from sparse_dip.physics.inpainting import Inpainting

OPERATORS: dict[str, type[Operator]] = {
    "identity": Identity,
    "inpainting": Inpainting,
    "downsampling": Downsampling,
    "blur": Blur,
}

__all__ = ["OPERATORS", "Blur", "Downsampling", "Identity", "Inpainting", "Operator", "gaussian_kernel"]
