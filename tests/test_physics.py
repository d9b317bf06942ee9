"""The forward operators against the libraries whose observation model they claim to share."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage, signal

from sparse_dip.errors import InputError
from sparse_dip.physics import Blur, Downsampling, Identity, Inpainting, gaussian_kernel


def _image(height: int = 48, width: int = 60, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width))


def _apply(operator, image: np.ndarray) -> np.ndarray:
    return operator(torch.from_numpy(image)[None, None])[0, 0].numpy()


def test_identity_returns_its_input_itself():
    x = torch.rand(1, 3, 8, 8)
    assert Identity()(x) is x
    assert Identity().image_size(7, 9) == (7, 9)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_downsampling_is_pillows_bicubic_resize(factor):
    x = _image().astype(np.float32)
    ours = _apply(Downsampling(factor), x.astype(np.float64))
    pillow = np.asarray(Image.fromarray(x, mode="F").resize((60 // factor, 48 // factor), Image.BICUBIC))
    assert ours.shape == pillow.shape
    np.testing.assert_allclose(ours, pillow, atol=1e-5)
    assert Downsampling(factor).image_size(*ours.shape) == (48 // factor * factor, 60 // factor * factor)


def test_downsampling_rejects_other_factors():
    with pytest.raises(InputError, match="scale"):
        Downsampling(5)


def test_gaussian_circular_blur_is_scipys_wrapped_gaussian_filter():
    x = _image()
    np.testing.assert_allclose(_apply(Blur.parse("gaussian:1.5"), x), ndimage.gaussian_filter(x, 1.5, mode="wrap"))
    assert gaussian_kernel(1.5).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(5, 4), (3, 3), (1, 6)])
def test_blur_is_a_true_convolution(shape):
    """Asymmetric, even-sized kernels: circular equals ndimage's wrapped convolution, valid
    equals signal.convolve2d's valid part (so the kernel is flipped and centred the same)."""
    x = _image()
    kernel = np.random.default_rng(1).random(shape)
    tensor = torch.from_numpy(kernel)
    np.testing.assert_allclose(_apply(Blur(tensor, "circular"), x), ndimage.convolve(x, kernel, mode="wrap"))
    valid = _apply(Blur(tensor, "valid"), x)
    np.testing.assert_allclose(valid, signal.convolve2d(x, kernel, mode="valid"))
    assert Blur(tensor, "valid").image_size(*valid.shape) == x.shape


def test_blur_rejects_a_kernel_larger_than_the_image_and_bad_specs(tmp_path):
    with pytest.raises(InputError, match="larger than"):
        Blur.parse("gaussian:3").check(16, 40, 3)
    for spec in ("gaussian:-1", "gaussian:x", "kernel.txt", str(tmp_path / "missing.npy")):
        with pytest.raises(InputError):
            Blur.parse(spec)
    np.save(tmp_path / "k.npy", np.ones((2, 2, 2)))
    with pytest.raises(InputError, match="2-D"):
        Blur.parse(str(tmp_path / "k.npy"))


def test_inpainting_ignores_the_holes_and_checks_the_size():
    observed = np.ones((6, 8))
    observed[2:4, 3:6] = 0
    operator = Inpainting.from_array(observed)
    x = torch.rand(1, 3, 6, 8)
    y = operator(x)
    assert torch.equal(y[..., 2:4, 3:6], torch.zeros(1, 3, 2, 3))
    assert torch.equal(y[..., 0, :], x[..., 0, :])
    assert torch.equal(operator.prepare(torch.where(operator.mask > 0, x, 7.0)), y)  # hole values do not matter
    assert operator.observed_fraction == pytest.approx(1 - 6 / 48)
    with pytest.raises(InputError, match="6x8"):
        operator.check(6, 9, 3)
    with pytest.raises(InputError, match="missing"):
        Inpainting.from_array(np.zeros((4, 4)))


@pytest.mark.parametrize(
    "operator",
    [Identity(), Downsampling(2), Blur.parse("gaussian:1.0", "valid"), Blur.parse("gaussian:1.0")],
    ids=["identity", "down2", "blur-valid", "blur-circular"],
)
def test_central_view_is_a_consistent_smaller_problem(operator):
    """The view's observation has the size the operator maps the view's image to."""
    height, width = operator.image_size(40, 52)
    y = torch.rand(1, 3, 40, 52)
    smaller, view = operator.central(y, 24)
    image_size = smaller.image_size(*view.shape[-2:])
    assert min(image_size) <= 24 + (max(operator.kernel.shape) if isinstance(operator, Blur) else 0)
    assert smaller(torch.rand(1, 3, *image_size)).shape == view.shape
    assert operator.central(y, 0)[1].shape == y.shape
    assert max(height, width) >= max(image_size)
