"""The microscope and camera: blur, illumination, background, noise, hot pixels, debris, uint16 counts.

Fields are blurred by FFT on the padded canvas (zero-padded to :data:`FFT_SIZE`,
so no wrap-around reaches the crop) and only the central crop is kept;
:func:`expose` turns its photo-electrons into camera counts (gain 1, a camera offset, Poisson shot noise
plus Gaussian read noise), the way raw screen images are stored.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as _fft

from .cells import CANVAS, CROP, PAD  # noqa: F401  (CANVAS is used by the doctests)

__all__ = ["DIFFICULTIES", "CAMERA_OFFSET", "FFT_SIZE", "spectrum", "to_crop", "transfer", "gaussian_blur",
           "illumination", "expose"]

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

#: FFT length: the canvas is zero-padded to a fast size (2**4 * 5) before blurring.
FFT_SIZE = 80
_FY = np.fft.fftfreq(FFT_SIZE)[:, None]
_FX = np.fft.rfftfreq(FFT_SIZE)[None, :]
_F2 = (-2 * np.pi**2 * (_FY**2 + _FX**2)).astype(np.float32)


def spectrum(fields: np.ndarray) -> np.ndarray:
    """``rfft2`` of canvas fields zero-padded to :data:`FFT_SIZE` (complex64 for float32 input).

    Examples
    --------
    >>> spectrum(np.zeros((2, CANVAS, CANVAS), np.float32)).shape
    (2, 80, 41)
    """
    return _fft.rfft2(fields, s=(FFT_SIZE, FFT_SIZE))


def to_crop(spec: np.ndarray) -> np.ndarray:
    """Inverse of :func:`spectrum`, keeping only the central :data:`CROP` x :data:`CROP` crop of the canvas."""
    return _fft.irfft2(spec, s=(FFT_SIZE, FFT_SIZE))[:, PAD:PAD + CROP, PAD:PAD + CROP]


def transfer(sigma: np.ndarray) -> np.ndarray:
    """Gaussian optical transfer function per image, shape (n, FFT_SIZE, FFT_SIZE // 2 + 1), float32.

    Examples
    --------
    >>> t = transfer(np.array([0.0, 2.0]))
    >>> t.shape, float(t[0].min()), float(t[1, 0, 0])
    ((2, 80, 41), 1.0, 1.0)
    """
    sigma = np.asarray(sigma, dtype=np.float32)
    out = (sigma * sigma)[:, None, None] * _F2[None]
    return np.exp(out, out=out)


def gaussian_blur(spec: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Multiply :func:`spectrum` output by a Gaussian transfer function with a per-image sigma.

    Parameters
    ----------
    spec : numpy.ndarray of complex, shape (n, FFT_SIZE, FFT_SIZE // 2 + 1)
    sigma : numpy.ndarray of float, shape (n,)
        Standard deviation in pixels.

    Returns
    -------
    numpy.ndarray, same shape as ``spec``

    Examples
    --------
    >>> img = np.zeros((1, CANVAS, CANVAS), np.float32); img[0, 30, 30] = 1
    >>> out = _fft.irfft2(gaussian_blur(spectrum(img), np.array([2.0])), s=(FFT_SIZE, FFT_SIZE))
    >>> round(float(out.sum()), 5), round(float(out.max()), 3)
    (1.0, 0.04)
    """
    return spec * transfer(sigma)


def illumination(gain: np.ndarray, gradient: np.ndarray, x: np.ndarray, y: np.ndarray,
                 field_shape: tuple[int, int] = (1024, 1344)) -> np.ndarray:
    """Relative illumination over each kept crop: a plate/field gain and a linear gradient across the field.

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
    numpy.ndarray of float32, shape (n, CROP, CROP)
    """
    offs = np.arange(CROP, dtype=np.float32) - CROP / 2
    rows = (y[:, None] + offs[None]) / field_shape[0] - 0.5
    cols = (x[:, None] + offs[None]) / field_shape[1] - 0.5
    rows = (gain[:, None] * gradient[:, 0, None] * rows).astype(np.float32)
    cols = (gain[:, None] * (1 + gradient[:, 1, None] * cols)).astype(np.float32)
    ramp = rows[:, :, None] + cols[:, None, :]  # gain * (1 + gradient . position), clipped at 0.2 gain
    return np.maximum(ramp, (0.2 * gain).astype(np.float32)[:, None, None], out=ramp)


def expose(electrons: np.ndarray, rng: np.random.Generator, *, read_noise: float = 3.0, hot: float = 3e-4,
           offset: int = CAMERA_OFFSET) -> np.ndarray:
    """Turn expected photo-electrons of the kept crops into noisy uint16 counts.

    Shot noise uses the Gaussian approximation of Poisson noise (same mean and
    variance, indistinguishable at the tens of electrons of a screen's background).

    Parameters
    ----------
    electrons : numpy.ndarray of float32, shape (n, CROP, CROP, C)
        Expected signal; negative values are clipped to 0 in place.
    rng : numpy.random.Generator
    read_noise : float, default 3.0
        Gaussian read noise (counts).
    hot : float, default 3e-4
        Share of hot pixels (saturated high values).
    offset : int, default CAMERA_OFFSET

    Returns
    -------
    numpy.ndarray of uint16, same shape as ``electrons``

    Examples
    --------
    >>> out = expose(np.full((2, CROP, CROP, 2), 50.0, np.float32), np.random.default_rng(0))
    >>> out.shape, out.dtype, bool(140 < out.mean() < 160)
    ((2, 64, 64, 2), dtype('uint16'), True)
    """
    signal = np.maximum(electrons, 0, out=electrons, dtype=np.float32)
    # Poisson-Gaussian noise, Gaussian approximation of the shot noise (exact mean and variance)
    counts = rng.standard_normal(signal.shape, dtype=np.float32)
    sd = signal + np.float32(read_noise) ** 2
    counts *= np.sqrt(sd, out=sd)
    counts += signal
    counts += np.float32(offset)
    n_hot = int(rng.binomial(counts.size, hot))
    flat = counts.reshape(-1)
    flat[rng.integers(0, counts.size, n_hot)] += rng.uniform(500, 4000, n_hot).astype(np.float32)
    np.rint(counts, out=counts)
    return np.clip(counts, 0, 65535, out=counts).astype(np.uint16)
