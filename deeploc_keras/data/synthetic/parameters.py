"""The function parameters ``theta`` of a simulated protein, its two function channels, and what each one does.

Every protein carries eight parameters (:data:`PARAMETER_NAMES`), drawn from its
functional groups (:func:`~deeploc_keras.data.synthetic.hierarchy.theta_from_groups`).
They act on the image in two channels (:data:`FUNCTION_CHANNELS`):

- **label-aligned**: function moves the morphology that tells classes apart: the share of
  the protein's light in sub-compartment granules (``foci``; speckle-like in the nucleus,
  P-body-like in the cytoplasm, in the lumen of vacuoles), how many granules or puncta it
  forms (``count``) and their size (``size``, also the width of rings and lines), and the
  share of its light in its class's partner compartment (``partner``,
  :data:`~deeploc_keras.data.synthetic.function.PARTNERS`: the nuclear share of a
  cytoplasmic protein, the vacuolar share of a plasma-membrane one, ...);
- **label-orthogonal**: how the light is spread within the class's own pattern: the grain
  (``texture_scale``) and strength (``texture_contrast``) of its mottling, its radial position
  (``position``: centre- or rim-enriched, puncta placement, the nucleolus's offset in the
  nucleus) and its polarity towards the bud (``polarity``).

The functions below turn rows of ``theta`` (shape ``(m, N_PARAMETERS)``) into those
physical quantities; they are monotonic in their parameter, so every parameter is
visible in every class. Abundance and the cell cycle carry no function (they are nuisance,
:mod:`~deeploc_keras.data.synthetic.screen`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "PARAMETER_NAMES",
    "N_PARAMETERS",
    "FUNCTION_CHANNELS",
    "MAX_MOVED",
    "FOCI",
    "COUNT",
    "SIZE",
    "PARTNER",
    "TEXTURE_SCALE",
    "TEXTURE_CONTRAST",
    "POSITION",
    "POLARITY",
    "foci_share",
    "partner_share",
    "count_scale",
    "size_scale",
    "texture_sigma",
    "texture_amplitude",
    "radial_slope",
    "position_shift",
    "polarity_slope",
]

#: The function parameters, in the column order of ``theta``.
PARAMETER_NAMES: tuple[str, ...] = (
    "foci", "count", "size", "partner", "texture_scale", "texture_contrast", "position", "polarity",
)  # fmt: skip
N_PARAMETERS = len(PARAMETER_NAMES)
#: The two function channels: parameters that move class-discriminative morphology, and parameters that
#: change the pattern within a class (which a localization classifier may ignore).
FUNCTION_CHANNELS: dict[str, tuple[str, ...]] = {
    "label_aligned": PARAMETER_NAMES[:4],
    "label_orthogonal": PARAMETER_NAMES[4:],
}
FOCI, COUNT, SIZE, PARTNER, TEXTURE_SCALE, TEXTURE_CONTRAST, POSITION, POLARITY = range(N_PARAMETERS)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


#: Largest share of a protein's light that granules and the partner compartment take together (its class's own
#: pattern keeps the rest).
MAX_MOVED = 0.7


def _moved(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    foci = 0.02 + 0.48 * _sigmoid(2.5 * theta[:, FOCI])
    partner = 0.02 + 0.43 * _sigmoid(2.5 * theta[:, PARTNER])
    scale = np.minimum(1.0, MAX_MOVED / (foci + partner))
    return foci * scale, partner * scale


def foci_share(theta: np.ndarray) -> np.ndarray:
    """Share of the protein's light in granules: 0.02 to 0.50 (0.26 at ``foci`` = 0).

    With :func:`partner_share` it takes at most :data:`MAX_MOVED` of the light (both shrink in proportion).

    Examples
    --------
    >>> low_partner = [0, 0, 0, -9.0, 0, 0, 0, 0]
    >>> foci_share(np.array([[f] + low_partner[1:] for f in (-9.0, 0.0, 9.0)])).round(2).tolist()
    [0.02, 0.26, 0.5]
    >>> foci_share(np.array([[9.0, 0, 0, 9.0, 0, 0, 0, 0]])).round(2).tolist()  # 0.5 + 0.45 shrunk to 0.7
    [0.37]
    """
    return _moved(theta)[0]


def partner_share(theta: np.ndarray) -> np.ndarray:
    """Share of the protein's light in its class's partner compartment: 0.02 to 0.45 (0.235 at 0)."""
    return _moved(theta)[1]


def count_scale(theta: np.ndarray) -> np.ndarray:
    """Factor on the expected number of granules, puncta and tubules: ``exp(count)``."""
    return np.exp(theta[:, COUNT])


def size_scale(theta: np.ndarray) -> np.ndarray:
    """Factor on the size of granules and puncta (``exp(0.7 size)``; rings and lines take its square root)."""
    return np.exp(0.7 * theta[:, SIZE])


def texture_sigma(theta: np.ndarray) -> np.ndarray:
    """Grain of the mottling (px, the Gaussian filter of a white-noise field): ``2.5 exp(0.7 texture_scale)``."""
    return 2.5 * np.exp(0.7 * theta[:, TEXTURE_SCALE])


def texture_amplitude(theta: np.ndarray) -> np.ndarray:
    """Standard deviation of the log-intensity mottling: 0.05 to 0.9 (0.475 at 0)."""
    return 0.05 + 0.85 * _sigmoid(2.5 * theta[:, TEXTURE_CONTRAST])


def radial_slope(theta: np.ndarray) -> np.ndarray:
    """Log-intensity change from the centre to the rim of the compartment: -3 to 3."""
    return 3.0 * np.tanh(theta[:, POSITION])


def position_shift(theta: np.ndarray) -> np.ndarray:
    """Outward shift of puncta and of the nucleolus, as a fraction of the radius: -0.2 to 0.2."""
    return 0.2 * np.tanh(theta[:, POSITION])


def polarity_slope(theta: np.ndarray) -> np.ndarray:
    """Log-intensity change per mother semi-axis along the mother-to-bud axis (budded cells): -2 to 2."""
    return 2.0 * np.tanh(theta[:, POLARITY])
