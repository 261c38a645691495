"""The microscope and camera: blur, illumination, background, noise, hot pixels, debris, uint16 counts.

Signals enter in photo-electrons on the padded canvas; :func:`expose` returns
the central crop as camera counts (gain 1, a camera offset, Poisson shot noise
plus Gaussian read noise), the way raw screen images are stored.
"""

from __future__ import annotations

import numpy as np

from .cells import CANVAS, CROP, PAD

__all__ = ["DIFFICULTIES", "CAMERA_OFFSET", "gaussian_blur", "illumination", "expose"]

#: Counts the camera adds to every pixel.
CAMERA_OFFSET = 100
#: Nuisance levels per difficulty: photon budget, optical blur range (px), debris and hot-pixel
#: rates, cell off-centre (px), per-cell abundance noise (log sd) and read noise (counts).
DIFFICULTIES: dict[str, dict[str, float | tuple[float, float]]] = {
    "easy": {"photons": 2.0, "blur": (0.8, 1.3), "debris": 0.01, "hot": 1e-4, "off_centre": 1.0,
             "cell_sd": 0.2, "read_noise": 6.0},
    "medium": {"photons": 1.0, "blur": (1.0, 1.8), "debris": 0.03, "hot": 3e-4, "off_centre": 1.5,
               "cell_sd": 0.35, "read_noise": 10.0},
    "hard": {"photons": 0.5, "blur": (1.2, 2.4), "debris": 0.06, "hot": 6e-4, "off_centre": 2.5,
             "cell_sd": 0.5, "read_noise": 14.0},
}  # fmt: skip

_FY = np.fft.fftfreq(CANVAS)[:, None]
_FX = np.fft.rfftfreq(CANVAS)[None, :]
_F2 = (_FY**2 + _FX**2).astype(np.float32)


def gaussian_blur(spectrum: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Multiply ``rfft2`` spectra by a Gaussian transfer function with a per-image sigma.

    Parameters
    ----------
    spectrum : numpy.ndarray of complex, shape (n, CANVAS, CANVAS // 2 + 1)
    sigma : numpy.ndarray of float, shape (n,)
        Standard deviation in pixels.

    Returns
    -------
    numpy.ndarray, same shape as ``spectrum``

    Examples
    --------
    >>> img = np.zeros((1, CANVAS, CANVAS)); img[0, 30, 30] = 1
    >>> out = np.fft.irfft2(gaussian_blur(np.fft.rfft2(img), np.array([2.0])), s=(CANVAS, CANVAS))
    >>> round(float(out.sum()), 6), round(float(out.max()), 3)
    (1.0, 0.04)
    """
    sigma = np.asarray(sigma, dtype=np.float32)[:, None, None]
    return spectrum * np.exp(-2 * np.pi**2 * sigma**2 * _F2[None])


def illumination(gain: np.ndarray, gradient: np.ndarray, x: np.ndarray, y: np.ndarray,
                 field_shape: tuple[int, int] = (1024, 1344)) -> np.ndarray:
    """Relative illumination over each crop: a plate/field gain and a linear gradient across the field.

    Parameters
    ----------
    gain : numpy.ndarray, shape (n,)
        Field gain (plate gain times field jitter).
    gradient : numpy.ndarray, shape (n, 2)
        Relative change across the whole field along rows and columns.
    x, y : numpy.ndarray, shape (n,)
        Crop centre in the field (column, row).
    field_shape : tuple of int, default (1024, 1344)

    Returns
    -------
    numpy.ndarray of float32, shape (n, CANVAS, CANVAS)
    """
    offs = np.arange(CANVAS, dtype=np.float32) - CANVAS / 2
    rows = (y[:, None] + offs[None]) / field_shape[0] - 0.5
    cols = (x[:, None] + offs[None]) / field_shape[1] - 0.5
    ramp = 1 + gradient[:, 0, None, None] * rows[:, :, None] + gradient[:, 1, None, None] * cols[:, None, :]
    return (gain[:, None, None] * np.clip(ramp, 0.2, None)).astype(np.float32)


def expose(electrons: np.ndarray, rng: np.random.Generator, *, read_noise: float = 3.0, hot: float = 3e-4,
           offset: int = CAMERA_OFFSET) -> np.ndarray:
    """Crop the canvas and turn expected photo-electrons into noisy uint16 counts.

    Shot noise uses the Gaussian approximation of Poisson noise (same mean and
    variance, indistinguishable at the tens of electrons of a screen's background).

    Parameters
    ----------
    electrons : numpy.ndarray, shape (n, CANVAS, CANVAS, C)
        Expected signal (non-negative).
    rng : numpy.random.Generator
    read_noise : float, default 3.0
        Gaussian read noise (counts).
    hot : float, default 3e-4
        Share of hot pixels (saturated high values).
    offset : int, default CAMERA_OFFSET

    Returns
    -------
    numpy.ndarray of uint16, shape (n, CROP, CROP, C)

    Examples
    --------
    >>> out = expose(np.full((2, CANVAS, CANVAS, 2), 50.0), np.random.default_rng(0))
    >>> out.shape, out.dtype, bool(140 < out.mean() < 160)
    ((2, 64, 64, 2), dtype('uint16'), True)
    """
    crop = np.maximum(electrons[:, PAD:PAD + CROP, PAD:PAD + CROP], 0).astype(np.float32)
    # Poisson-Gaussian noise, Gaussian approximation of the shot noise (exact mean and variance)
    noise = rng.standard_normal(crop.shape, dtype=np.float32)
    counts = crop + offset + np.sqrt(crop + np.float32(read_noise) ** 2) * noise
    n_hot = int(rng.binomial(counts.size, hot))
    flat = counts.reshape(-1)
    flat[rng.integers(0, counts.size, n_hot)] += rng.uniform(500, 4000, n_hot).astype(np.float32)
    return np.clip(np.rint(counts), 0, 65535).astype(np.uint16)
