"""Regenerate the shipped example from scikit-image's bundled astronaut (public domain, NASA).

    python data/make_example.py

writes ``data/astronaut.png`` (the clean image, downscaled to 256x256) and
``data/astronaut_noisy.png`` (Gaussian noise, sigma 25 on the 0-255 scale, seed 0).
"""

from pathlib import Path

import numpy as np
from skimage import data, transform

from sparse_dip.images import add_gaussian_noise, save_image

HERE = Path(__file__).parent

if __name__ == "__main__":
    clean = transform.resize(data.astronaut(), (256, 256), anti_aliasing=True).astype(np.float32)
    clean = np.round(clean * 255) / 255
    save_image(HERE / "astronaut.png", clean)
    save_image(HERE / "astronaut_noisy.png", add_gaussian_noise(clean, sigma=25, seed=0))
