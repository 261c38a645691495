"""The mask of the centred cell inside a crop, from the cytoplasm marker (RFP).

Smoothing, Otsu threshold, hole filling, a distance-transform watershed that
splits touching neighbours, then the region under the crop centre (or the
nearest one within ``max_offset`` pixels). When no sensible region exists the
mask falls back to a centred disc and the cell is flagged (``fallback=True``,
written as ``Metadata_MaskFallback``), never silently wrong.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.segmentation import watershed

from deeploc_keras.core.errors import InputError

__all__ = ["FALLBACK_RADIUS", "cell_mask"]

#: Radius (px) of the fallback disc: half the median equivalent diameter (~35 px) of the real toy cells.
FALLBACK_RADIUS = 17.5


def _disc(shape: tuple[int, int], radius: float) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    centre_r, centre_c = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    return (rows - centre_r) ** 2 + (cols - centre_c) ** 2 <= radius**2


def cell_mask(
    marker: np.ndarray,
    *,
    sigma: float = 1.0,
    min_distance: int = 10,
    max_offset: float = 10.0,
    min_area: int = 50,
    fallback_radius: float = FALLBACK_RADIUS,
) -> tuple[np.ndarray, bool]:
    """Segment the cell at the centre of a crop from its whole-cell marker channel.

    Parameters
    ----------
    marker : numpy.ndarray, shape (H, W)
        The cytoplasm marker (RFP), any real dtype; finite.
    sigma : float, default 1.0
        Gaussian smoothing (px) before Otsu's threshold.
    min_distance : int, default 10
        Minimal distance (px) between two cell centres when splitting touching cells
        (peaks of the smoothed distance transform seed a watershed).
    max_offset : float, default 10.0
        If no region covers the centre pixel, the nearest region is kept when it lies
        within this distance (px); otherwise the mask falls back.
    min_area : int, default 50
        A kept region smaller than this (px) falls back.
    fallback_radius : float, default :data:`FALLBACK_RADIUS`
        Radius of the centred disc used as fallback mask.

    Returns
    -------
    mask : numpy.ndarray of bool, shape (H, W)
    fallback : bool
        True when the mask is the centred disc (flat marker, no region near the centre, or
        a region smaller than ``min_area``).

    Raises
    ------
    InputError
        If ``marker`` is not 2-D or has non-finite pixels.

    Examples
    --------
    >>> rows, cols = np.ogrid[:64, :64]
    >>> marker = (((rows - 32) ** 2 + (cols - 30) ** 2) < 15 ** 2) * 0.5
    >>> mask, fallback = cell_mask(marker)
    >>> int(mask.sum()), fallback
    (705, False)
    >>> cell_mask(np.zeros((64, 64)))[1]
    True
    """
    marker = np.asarray(marker, dtype=np.float64)
    if marker.ndim != 2:
        raise InputError(f"marker must be a 2-D image (H, W). Received: marker.shape={marker.shape}")
    n_bad = int(np.count_nonzero(~np.isfinite(marker)))
    if n_bad:
        raise InputError(f"marker has {n_bad} NaN or infinite pixels; expected finite values")
    fallback = (_disc(marker.shape, fallback_radius), True)
    smooth = gaussian(marker, sigma=sigma, preserve_range=True)
    if smooth.max() - smooth.min() <= 1e-12:
        return fallback
    foreground = ndi.binary_fill_holes(smooth > threshold_otsu(smooth))
    components, _ = ndi.label(foreground)
    distance = gaussian(ndi.distance_transform_edt(foreground), sigma=2.0, preserve_range=True)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=components, exclude_border=False)
    seeds = np.zeros(marker.shape, dtype=np.int32)
    seeds[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    regions = watershed(-distance, seeds, mask=foreground)
    centre = (marker.shape[0] // 2, marker.shape[1] // 2)
    label = regions[centre]
    if label == 0:
        if not regions.any():
            return fallback
        offset, (rows, cols) = ndi.distance_transform_edt(regions == 0, return_indices=True)
        if offset[centre] > max_offset:
            return fallback
        label = regions[rows[centre], cols[centre]]
    mask = regions == label
    if mask.sum() < min_area:
        return fallback
    return mask, False
