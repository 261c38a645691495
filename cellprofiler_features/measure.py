"""CellProfiler per-cell measurements of one crop, through cp-measure, with CellProfiler names.

One ``measure_<module>`` function per CellProfiler module, each a thin wrapper
over the ``cp_measure.bulk`` functions (CellProfiler's own measurement code,
``legacy=True``): nothing is re-implemented here, only called and renamed to
CellProfiler's export convention ``Cells_<Category>_<Feature>_<Image>[_params]``
(``Cells_Intensity_MeanIntensity_GFP``, ``Cells_Texture_Contrast_GFP_3_00_256``,
``Cells_Correlation_Correlation_GFP_RFP``).

Images are floats in [0, 1] as CellProfiler loads them (uint16 counts / 65535),
never normalised per cell; masks are boolean, one object per crop.

Column order (:func:`feature_columns`) is fixed: families in the order intensity
(with location), size/shape (standard, Feret, shape Zernikes), texture,
granularity, radial distribution (then radial Zernikes), colocalization; inside
a family, channel by channel in the store's order, features in CellProfiler's
(cp-measure's) order.

References
----------
Stirling et al., "CellProfiler 4: improvements in speed, utility and usability", BMC Bioinformatics 22, 433 (2021).
Muñoz et al., "cp_measure: API-first feature extraction for image-based profiling workflows", arXiv:2507.01163.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from deeploc_keras.core.errors import InputError

__all__ = [
    "OBJECT_NAME",
    "RADIAL_ZERNIKE_CHOICES",
    "FEATURE_PRESETS",
    "FeatureConfig",
    "feature_columns",
    "family_counts",
    "measure_intensity",
    "measure_sizeshape",
    "measure_texture",
    "measure_granularity",
    "measure_radial_distribution",
    "measure_colocalization",
    "measure_cell",
]

logger = logging.getLogger(__name__)

#: CellProfiler object name that prefixes every column.
OBJECT_NAME = "Cells"
#: Settings of CellProfiler's "Calculate intensity Zernikes?" (MeasureObjectIntensityDistribution).
RADIAL_ZERNIKE_CHOICES = ("none", "magnitudes", "magnitudes_and_phase")
#: Named feature sets (:meth:`FeatureConfig.preset`): CellProfiler's defaults, and the nearest to the study's 433.
FEATURE_PRESETS = ("default", "closest_to_study")

# cp-measure keys in CellProfiler's order (CellProfiler 4.2.8 defaults).
_INTENSITY = (
    "Intensity_IntegratedIntensity", "Intensity_MeanIntensity", "Intensity_StdIntensity",
    "Intensity_MinIntensity", "Intensity_MaxIntensity", "Intensity_IntegratedIntensityEdge",
    "Intensity_MeanIntensityEdge", "Intensity_StdIntensityEdge", "Intensity_MinIntensityEdge",
    "Intensity_MaxIntensityEdge", "Intensity_MassDisplacement", "Intensity_LowerQuartileIntensity",
    "Intensity_MedianIntensity", "Intensity_MADIntensity", "Intensity_UpperQuartileIntensity",
    "Location_CenterMassIntensity_X", "Location_CenterMassIntensity_Y", "Location_CenterMassIntensity_Z",
    "Location_MaxIntensity_X", "Location_MaxIntensity_Y", "Location_MaxIntensity_Z",
)  # fmt: skip
_SIZESHAPE = (
    "Area", "Perimeter", "MaximumRadius", "MeanRadius", "MedianRadius", "Orientation", "Eccentricity",
    "FormFactor", "Solidity", "ConvexArea", "Compactness", "BoundingBoxArea", "Extent", "EulerNumber",
    "EquivalentDiameter", "MajorAxisLength", "MinorAxisLength", "Center_X", "Center_Y",
    "BoundingBoxMinimum_X", "BoundingBoxMinimum_Y", "BoundingBoxMaximum_X", "BoundingBoxMaximum_Y",
)  # fmt: skip
_FERET = ("MinFeretDiameter", "MaxFeretDiameter")
_HARALICK = (
    "AngularSecondMoment", "Contrast", "Correlation", "Variance", "InverseDifferenceMoment", "SumAverage",
    "SumVariance", "SumEntropy", "Entropy", "DifferenceVariance", "DifferenceEntropy", "InfoMeas1", "InfoMeas2",
)  # fmt: skip
_RADIAL = ("FracAtD", "MeanFrac", "RadialCV")
_ZERNIKE_DEGREE = 9
# Messages of numpy RuntimeWarnings that cp-measure raises on tiny or flat objects (the value becomes NaN).
_NUMPY_WARNINGS = "(Degrees of freedom|invalid value|divide by zero|Mean of empty slice)"
# cp-measure selects its backend through a module global: resolve registries under a lock (Dask threads).
_REGISTRY_LOCK = threading.Lock()


def _zernike_indices(degree: int = _ZERNIKE_DEGREE) -> list[tuple[int, int]]:
    return [(n, m) for n in range(degree + 1) for m in range(n % 2, n + 1, 2)]


@dataclass(frozen=True)
class FeatureConfig:
    """Which CellProfiler modules to measure, with their settings (CellProfiler 4.2.8 defaults).

    Parameters
    ----------
    intensity : bool, default True
        MeasureObjectIntensity: 15 intensity + 6 location features per channel.
    sizeshape : bool, default True
        MeasureObjectSizeShape: 23 standard features, 2 Feret diameters and 30 shape Zernikes (degree 9).
    texture : bool, default True
        MeasureTexture: 13 Haralick features x 4 directions per channel and scale.
    texture_scales : tuple of int, default (3,)
        Co-occurrence distances in pixels; each adds 52 features per channel.
    texture_levels : int, default 256
        Grey levels of the co-occurrence matrix.
    granularity : bool, default True
        MeasureGranularity on the crop (16 features per channel).
    granularity_spectrum : int, default 16
    granularity_subsample : float, default 0.25
    granularity_background_subsample : float, default 0.25
    granularity_element_size : int, default 10
    radial_distribution : bool, default True
        MeasureObjectIntensityDistribution: FracAtD, MeanFrac, RadialCV per bin (12 per channel).
    radial_bins : int, default 4
    radial_zernikes : {"none", "magnitudes", "magnitudes_and_phase"}, default "none"
        Intensity Zernikes (30 magnitudes and 30 phases per channel).
    colocalization : bool, default True
        MeasureColocalization between the first two channels: Correlation, Overlap, K (2), Manders (2), RWC (2).
    colocalization_threshold : int, default 15
        Percent of the object's maximum intensity for Manders and RWC.
    costes : bool, default False
        Costes' automatic-threshold Manders (2 more). Off by default: cp-measure's Costes differs from
        CellProfiler's on most cells (undefined-value policy) and the profiling handbook drops it.
    accelerator : {"numba", None}, default "numba"
        cp-measure backend for intensity, texture and Feret (equal to numpy to 1e-11).

    Examples
    --------
    >>> config = FeatureConfig()
    >>> len(feature_columns(["GFP", "RFP"], config))
    265
    >>> FeatureConfig.from_dict(config.to_dict()) == config
    True
    """

    intensity: bool = True
    sizeshape: bool = True
    texture: bool = True
    texture_scales: tuple[int, ...] = (3,)
    texture_levels: int = 256
    granularity: bool = True
    granularity_spectrum: int = 16
    granularity_subsample: float = 0.25
    granularity_background_subsample: float = 0.25
    granularity_element_size: int = 10
    radial_distribution: bool = True
    radial_bins: int = 4
    radial_zernikes: str = "none"
    colocalization: bool = True
    colocalization_threshold: int = 15
    costes: bool = False
    accelerator: str | None = "numba"
    _families: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "texture_scales", tuple(int(s) for s in self.texture_scales))
        if self.radial_zernikes not in RADIAL_ZERNIKE_CHOICES:
            raise InputError(f"radial_zernikes must be one of {RADIAL_ZERNIKE_CHOICES}. "
                             f"Received: radial_zernikes={self.radial_zernikes!r}")
        if self.texture and (not self.texture_scales or min(self.texture_scales) < 1):
            raise InputError(f"texture_scales must be positive integers. Received: {self.texture_scales}")
        if not 2 <= self.texture_levels <= 256:
            raise InputError(f"texture_levels must be in [2, 256]. Received: {self.texture_levels}")
        if self.accelerator not in ("numba", None):
            raise InputError(f"accelerator must be 'numba' or None. Received: {self.accelerator!r}")
        families = [name for name in _FAMILIES if getattr(self, name)]
        if not families:
            raise InputError("FeatureConfig enables no family; enable at least one (e.g. intensity=True)")
        object.__setattr__(self, "_families", tuple(families))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (recorded in ``config.json``)."""
        out = asdict(self)
        out.pop("_families")
        out["texture_scales"] = list(self.texture_scales)
        return out

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> FeatureConfig:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        InputError
            On an unknown setting (the allowed ones are listed).
        """
        allowed = {k for k in cls.__dataclass_fields__ if not k.startswith("_")}
        unknown = set(settings) - allowed
        if unknown:
            raise InputError(f"unknown FeatureConfig settings {sorted(unknown)}; allowed: {sorted(allowed)}")
        return cls(**settings)

    @classmethod
    def closest_to_study(cls) -> FeatureConfig:
        """CellProfiler defaults + texture scale 5 + radial Zernike magnitudes + Costes: 431 columns.

        The study reports 433 features; its exact pipeline is unknown and no combination of
        CellProfiler modules gives 433 (see docs/cellprofiler.md).

        Examples
        --------
        >>> len(feature_columns(["GFP", "RFP"], FeatureConfig.closest_to_study()))
        431
        """
        return cls(texture_scales=(3, 5), radial_zernikes="magnitudes", costes=True)

    @classmethod
    def preset(cls, name: str) -> FeatureConfig:
        """The feature set called ``name`` (one of :data:`FEATURE_PRESETS`).

        Raises
        ------
        InputError
            On an unknown name (the allowed ones are listed).

        Examples
        --------
        >>> FeatureConfig.preset("closest_to_study") == FeatureConfig.closest_to_study()
        True
        """
        if name not in FEATURE_PRESETS:
            raise InputError(f"unknown CellProfiler feature preset {name!r}; expected one of {list(FEATURE_PRESETS)}")
        return cls.closest_to_study() if name == "closest_to_study" else cls()


# ---------------------------------------------------------------------------------------------- names


def _intensity_names(channel: str) -> list[str]:
    return [f"{OBJECT_NAME}_{key}_{channel}" for key in _INTENSITY]


def _sizeshape_names() -> list[str]:
    keys = [*_SIZESHAPE, *_FERET, *(f"Zernike_{n}_{m}" for n, m in _zernike_indices())]
    return [f"{OBJECT_NAME}_AreaShape_{key}" for key in keys]


def _texture_names(channel: str, scales: Sequence[int], levels: int) -> list[str]:
    return [f"{OBJECT_NAME}_Texture_{feature}_{channel}_{scale}_{direction:02d}_{levels}"
            for scale in scales for direction in range(4) for feature in _HARALICK]


def _granularity_names(channel: str, spectrum: int) -> list[str]:
    return [f"{OBJECT_NAME}_Granularity_{k}_{channel}" for k in range(1, spectrum + 1)]


def _radial_names(channel: str, bins: int, zernikes: str) -> list[str]:
    names = [f"{OBJECT_NAME}_RadialDistribution_{feature}_{channel}_{b}of{bins}"
             for b in range(1, bins + 1) for feature in _RADIAL]
    parts = {"none": (), "magnitudes": ("Magnitude",), "magnitudes_and_phase": ("Magnitude", "Phase")}[zernikes]
    names += [f"{OBJECT_NAME}_RadialDistribution_Zernike{part}_{channel}_{n}_{m}"
              for part in parts for n, m in _zernike_indices()]
    return names


def _colocalization_names(first: str, second: str, costes: bool) -> list[str]:
    ab, ba = f"{first}_{second}", f"{second}_{first}"
    keys = [f"Correlation_{ab}", f"Overlap_{ab}", f"K_{ab}", f"K_{ba}", f"Manders_{ab}", f"Manders_{ba}",
            f"RWC_{ab}", f"RWC_{ba}"]
    if costes:
        keys += [f"Costes_{ab}", f"Costes_{ba}"]
    return [f"{OBJECT_NAME}_Correlation_{key}" for key in keys]


def feature_columns(channel_names: Sequence[str], config: FeatureConfig | None = None) -> list[str]:
    """The fixed, documented column order of :func:`measure_cell`.

    Parameters
    ----------
    channel_names : sequence of str
        Image names in channel order (e.g. ``["GFP", "RFP"]``); colocalization uses the first two.
    config : FeatureConfig, optional
        Defaults to ``FeatureConfig()``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> feature_columns(["GFP", "RFP"])[:2]
    ['Cells_Intensity_IntegratedIntensity_GFP', 'Cells_Intensity_MeanIntensity_GFP']
    >>> feature_columns(["GFP", "RFP"])[-1]
    'Cells_Correlation_RWC_RFP_GFP'
    """
    config = config or FeatureConfig()
    return [name for family in config._families for name in _FAMILIES[family].columns(channel_names, config)]


def family_counts(channel_names: Sequence[str], config: FeatureConfig | None = None) -> dict[str, int]:
    """Number of columns per family (and ``"total"``).

    Examples
    --------
    >>> family_counts(["GFP", "RFP"])
    {'intensity': 42, 'sizeshape': 55, 'texture': 104, 'granularity': 32, 'radial_distribution': 24, \
'colocalization': 8, 'total': 265}
    """
    config = config or FeatureConfig()
    counts = {family: len(_FAMILIES[family].columns(channel_names, config)) for family in config._families}
    counts["total"] = sum(counts.values())
    return counts


# ---------------------------------------------------------------------------------------------- measuring


@functools.lru_cache(maxsize=2)
def _functions(accelerator: str | None) -> tuple[dict[str, Callable], dict[str, Callable]]:
    """cp-measure's registries for one backend (cp-measure's global backend is left at its default, None)."""
    import cp_measure
    from cp_measure.bulk import get_core_measurements, get_correlation_measurements
    from cp_measure.core.measurecolocalization import get_correlation_overlap

    with _REGISTRY_LOCK:
        cp_measure.set_accelerator(accelerator)
        try:
            core = get_core_measurements(legacy=True, sanitize=False)
            correlation = {**get_correlation_measurements(sanitize=False), "overlap": get_correlation_overlap}
        finally:
            cp_measure.set_accelerator(None)
    return core, correlation


def _call(function: Callable, *args: Any, **kwargs: Any) -> dict[str, float]:
    """Call a cp-measure function on one object; return scalars (NaN where undefined)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NUMPY_WARNINGS, category=RuntimeWarning)
        result = function(*args, **kwargs)
    return {key: float(np.asarray(value, dtype=np.float64).reshape(-1)[0]) for key, value in result.items()}


def _validate_crop(image: np.ndarray, mask: np.ndarray, *, channels: int | None = None) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """The package's one boundary check: float image in [0, 1], finite, and a non-empty 2-D mask."""
    image = np.asarray(image)
    mask = np.asarray(mask)
    expected_ndim = 2 if channels is None else 3
    if image.ndim != expected_ndim or (channels is not None and image.shape[-1] < channels):
        shape = "(H, W)" if channels is None else f"(H, W, >={channels})"
        raise InputError(f"image must have shape {shape}. Received: image.shape={image.shape}")
    if mask.shape != image.shape[:2]:
        raise InputError(f"mask must match the image's (H, W). Received: mask.shape={mask.shape}, "
                         f"image.shape={image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"image must be float in [0, 1] (uint16 counts / 65535). Received: dtype={image.dtype}")
    n_nan = int(np.count_nonzero(~np.isfinite(image)))
    if n_nan:
        raise InputError(f"image has {n_nan} NaN or infinite pixels; expected finite values in [0, 1]")
    if image.size and (image.min() < 0 or image.max() > 1):
        raise InputError(f"image values must lie in [0, 1] as CellProfiler loads them. "
                         f"Received: min={image.min():.4g}, max={image.max():.4g}")
    labels = (mask != 0).astype(np.int32)
    if not labels.any():
        raise InputError("mask is empty; expected one object (non-zero pixels)")
    return image.astype(np.float64, copy=False), labels


# Kernels: validated inputs (float64 image, int32 labels with one object); called by the public
# ``measure_<module>`` functions after their boundary check and by ``measure_cell`` through ``_FAMILIES``.


def _intensity(image: np.ndarray, labels: np.ndarray, channel: str, *, accelerator: str | None) -> dict[str, float]:
    core, _ = _functions(accelerator)
    values = _call(core["intensity"], labels, image)
    return dict(zip(_intensity_names(channel), (values[key] for key in _INTENSITY), strict=True))


def _sizeshape(labels: np.ndarray, *, accelerator: str | None) -> dict[str, float]:
    core, _ = _functions(accelerator)
    values = _call(core["sizeshape"], labels, None, calculate_advanced=False)
    values.update(_call(core["feret"], labels, None))
    values.update(_call(core["zernike"], labels, None, zernike_numbers=_ZERNIKE_DEGREE))
    keys = [*_SIZESHAPE, *_FERET, *(f"Zernike_{n}_{m}" for n, m in _zernike_indices())]
    return dict(zip(_sizeshape_names(), (values[key] for key in keys), strict=True))


def _texture(image: np.ndarray, labels: np.ndarray, channel: str, *, scales: Sequence[int], levels: int,
             accelerator: str | None) -> dict[str, float]:
    core, _ = _functions(accelerator)
    out: dict[str, float] = {}
    for scale in scales:
        values = _call(core["texture"], labels, image, scale=int(scale), gray_levels=int(levels))
        keys = [f"{feature}_{scale}_{direction:02d}_{levels}" for direction in range(4) for feature in _HARALICK]
        out.update(zip(_texture_names(channel, [scale], levels), (values[key] for key in keys), strict=True))
    return out


def _granularity(image: np.ndarray, labels: np.ndarray, channel: str, *, spectrum: int, subsample: float,
                 background_subsample: float, element_size: int) -> dict[str, float]:
    core, _ = _functions(None)
    values = _call(core["granularity"], labels, image, subsample_size=subsample,
                   image_sample_size=background_subsample, element_size=element_size,
                   granular_spectrum_length=spectrum)
    return dict(zip(_granularity_names(channel, spectrum), (values[f"Granularity_{k}"] for k in
                                                            range(1, spectrum + 1)), strict=True))


def _radial_distribution(image: np.ndarray, labels: np.ndarray, channel: str, *, bins: int,
                         zernikes: str) -> dict[str, float]:
    core, _ = _functions(None)
    values = _call(core["radial_distribution"], labels, image, scaled=True, bin_count=bins)
    keys = [f"RadialDistribution_{feature}_{b}of{bins}" for b in range(1, bins + 1) for feature in _RADIAL]
    if zernikes != "none":
        values.update(_call(core["radial_zernikes"], labels, image, zernike_degree=_ZERNIKE_DEGREE))
        parts = ("Magnitude",) if zernikes == "magnitudes" else ("Magnitude", "Phase")
        keys += [f"RadialDistribution_Zernike{part}_{n}_{m}" for part in parts for n, m in _zernike_indices()]
    return dict(zip(_radial_names(channel, bins, zernikes), (values[key] for key in keys), strict=True))


def _colocalization(crop: np.ndarray, labels: np.ndarray, channel_names: Sequence[str], *, threshold: int,
                    costes: bool) -> dict[str, float]:
    _, correlation = _functions(None)
    first, second = np.ascontiguousarray(crop[..., 0]), np.ascontiguousarray(crop[..., 1])
    values = _call(correlation["pearson"], first, second, labels)
    values.update(_call(correlation["overlap"], first, second, labels, thr=threshold))
    values.update(_call(correlation["manders_fold"], first, second, labels, thr=threshold))
    values.update(_call(correlation["rwc"], first, second, labels, thr=threshold))
    keys = ["Correlation_Pearson", "Correlation_Overlap", "Correlation_K_1", "Correlation_K_2",
            "Correlation_Manders_1", "Correlation_Manders_2", "Correlation_RWC_1", "Correlation_RWC_2"]
    if costes:
        values.update(_call(correlation["costes"], first, second, labels, thr=threshold, scale_max=65535))
        keys += ["Correlation_Costes_1", "Correlation_Costes_2"]
    names = _colocalization_names(channel_names[0], channel_names[1], costes)
    return dict(zip(names, (values[key] for key in keys), strict=True))


# ---------------------------------------------------------------------------------------------- public functions


def measure_intensity(image: np.ndarray, mask: np.ndarray, *, channel: str = "GFP",
                      accelerator: str | None = "numba") -> dict[str, float]:
    """MeasureObjectIntensity: intensity (15) and location (6) features of one channel.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W), float in [0, 1]
    mask : numpy.ndarray, shape (H, W), bool
        The cell (non-zero pixels).
    channel : str, default "GFP"
        Image name used in the column names.
    accelerator : {"numba", None}, default "numba"

    Returns
    -------
    dict of str to float
        ``Cells_Intensity_<Feature>_<channel>`` and ``Cells_Location_<Feature>_<channel>``.

    Examples
    --------
    >>> image = np.zeros((16, 16)); image[4:12, 4:12] = 0.5
    >>> measure_intensity(image, image > 0)["Cells_Intensity_MeanIntensity_GFP"]
    0.5
    """
    image, labels = _validate_crop(image, mask)
    return _intensity(image, labels, channel, accelerator=accelerator)


def measure_sizeshape(image: np.ndarray | None, mask: np.ndarray, *,
                      accelerator: str | None = "numba") -> dict[str, float]:
    """MeasureObjectSizeShape: 23 standard features, Feret diameters and 30 shape Zernikes.

    Parameters
    ----------
    image : numpy.ndarray or None
        Unused (shape only); accepted for a uniform signature.
    mask : numpy.ndarray, shape (H, W), bool
    accelerator : {"numba", None}, default "numba"

    Returns
    -------
    dict of str to float
        ``Cells_AreaShape_<Feature>`` (advanced moments are not included, as in CellProfiler's default).

    Examples
    --------
    >>> mask = np.zeros((16, 16), bool); mask[4:12, 4:12] = True
    >>> measure_sizeshape(None, mask)["Cells_AreaShape_Area"]
    64.0
    """
    _, labels = _validate_crop(np.zeros(np.shape(mask)), mask)
    return _sizeshape(labels, accelerator=accelerator)


def measure_texture(image: np.ndarray, mask: np.ndarray, *, channel: str = "GFP", scales: Sequence[int] = (3,),
                    levels: int = 256, accelerator: str | None = "numba") -> dict[str, float]:
    """MeasureTexture: 13 Haralick features in 4 directions per scale (NaN for objects too dim or small).

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W), float in [0, 1]
        Quantised with ``img_as_ubyte`` on the whole crop (no per-object stretch), as CellProfiler does.
    mask : numpy.ndarray, shape (H, W), bool
    channel : str, default "GFP"
    scales : sequence of int, default (3,)
    levels : int, default 256
    accelerator : {"numba", None}, default "numba"

    Returns
    -------
    dict of str to float
        ``Cells_Texture_<Feature>_<channel>_<scale>_<direction:02d>_<levels>``.

    Examples
    --------
    >>> image = np.tile([0.2, 0.6], (16, 8)); mask = np.ones((16, 16), bool)
    >>> round(measure_texture(image, mask)["Cells_Texture_Contrast_GFP_3_00_256"], 1)
    10404.0
    """
    image, labels = _validate_crop(image, mask)
    return _texture(image, labels, channel, scales=scales, levels=levels, accelerator=accelerator)


def measure_granularity(image: np.ndarray, mask: np.ndarray, *, channel: str = "GFP", spectrum: int = 16,
                        subsample: float = 0.25, background_subsample: float = 0.25,
                        element_size: int = 10) -> dict[str, float]:
    """MeasureGranularity on the crop: the granular spectrum of one channel inside the cell.

    Computed on the crop, not the full field of view, so values depend on the crop size and on
    neighbouring cells in it (see docs/cellprofiler.md).

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W), float in [0, 1]
    mask : numpy.ndarray, shape (H, W), bool
    channel : str, default "GFP"
    spectrum : int, default 16
    subsample, background_subsample : float, default 0.25
    element_size : int, default 10

    Returns
    -------
    dict of str to float
        ``Cells_Granularity_<k>_<channel>``, k = 1..spectrum.

    Examples
    --------
    >>> image = np.zeros((32, 32)); image[8:24, 8:24] = 0.5
    >>> len(measure_granularity(image, image > 0))
    16
    """
    image, labels = _validate_crop(image, mask)
    return _granularity(image, labels, channel, spectrum=spectrum, subsample=subsample,
                        background_subsample=background_subsample, element_size=element_size)


def measure_radial_distribution(image: np.ndarray, mask: np.ndarray, *, channel: str = "GFP", bins: int = 4,
                                zernikes: str = "none") -> dict[str, float]:
    """MeasureObjectIntensityDistribution: FracAtD, MeanFrac, RadialCV per scaled bin, optional Zernikes.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W), float in [0, 1]
    mask : numpy.ndarray, shape (H, W), bool
    channel : str, default "GFP"
    bins : int, default 4
    zernikes : {"none", "magnitudes", "magnitudes_and_phase"}, default "none"

    Returns
    -------
    dict of str to float
        ``Cells_RadialDistribution_<Feature>_<channel>_<i>of<bins>`` then
        ``Cells_RadialDistribution_Zernike{Magnitude,Phase}_<channel>_<n>_<m>``.

    Examples
    --------
    >>> image = np.zeros((32, 32)); image[8:24, 8:24] = 0.5
    >>> round(measure_radial_distribution(image, image > 0)["Cells_RadialDistribution_FracAtD_GFP_4of4"], 3)
    0.43
    """
    if zernikes not in RADIAL_ZERNIKE_CHOICES:
        raise InputError(f"zernikes must be one of {RADIAL_ZERNIKE_CHOICES}. Received: {zernikes!r}")
    image, labels = _validate_crop(image, mask)
    return _radial_distribution(image, labels, channel, bins=bins, zernikes=zernikes)


def measure_colocalization(image: np.ndarray, mask: np.ndarray, *, channel_names: Sequence[str] = ("GFP", "RFP"),
                           threshold: int = 15, costes: bool = False) -> dict[str, float]:
    """MeasureColocalization of the first two channels inside the cell.

    Correlation (Pearson), Overlap, K (both ways), Manders and RWC (both ways, ``threshold`` percent of
    the object's maximum). Costes (both ways) only when ``costes=True``: cp-measure's Costes uses
    ``scale_max=65535`` and its own undefined-value policy, so it differs from CellProfiler's on most
    cells. CellProfiler's Slope is image-level only and is not reported.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W, C >= 2), float in [0, 1]
    mask : numpy.ndarray, shape (H, W), bool
    channel_names : sequence of str, default ("GFP", "RFP")
    threshold : int, default 15
    costes : bool, default False

    Returns
    -------
    dict of str to float
        ``Cells_Correlation_<Feature>_<A>_<B>``.

    Examples
    --------
    >>> rng = np.random.default_rng(0); a = rng.random((16, 16))
    >>> image = np.stack([a, a / 2], axis=-1)
    >>> round(measure_colocalization(image, np.ones((16, 16)))["Cells_Correlation_Correlation_GFP_RFP"], 6)
    1.0
    """
    image, labels = _validate_crop(image, mask, channels=2)
    return _colocalization(image, labels, channel_names, threshold=threshold, costes=costes)


# ---------------------------------------------------------------------------------------------- the family table


@dataclass(frozen=True)
class _Family:
    """One CellProfiler module: its column names and its measurement of a validated crop (H, W, C)."""

    columns: Callable[[Sequence[str], FeatureConfig], list[str]]
    measure: Callable[[np.ndarray, np.ndarray, Sequence[str], FeatureConfig], dict[str, float]]


def _per_channel(columns: Callable[[str, FeatureConfig], list[str]],
                 measure: Callable[[np.ndarray, np.ndarray, str, FeatureConfig], dict[str, float]]) -> _Family:
    """A family measured on each channel in turn, in the store's channel order."""

    def all_columns(channel_names: Sequence[str], config: FeatureConfig) -> list[str]:
        return [name for channel in channel_names for name in columns(channel, config)]

    def measure_all(crop: np.ndarray, labels: np.ndarray, channel_names: Sequence[str],
                    config: FeatureConfig) -> dict[str, float]:
        out: dict[str, float] = {}
        for c, channel in enumerate(channel_names):
            out.update(measure(np.ascontiguousarray(crop[..., c]), labels, channel, config))
        return out

    return _Family(all_columns, measure_all)


def _pair_columns(channel_names: Sequence[str], config: FeatureConfig) -> list[str]:
    if len(channel_names) < 2:
        return []
    return _colocalization_names(channel_names[0], channel_names[1], config.costes)


def _pair_measure(crop: np.ndarray, labels: np.ndarray, channel_names: Sequence[str],
                  config: FeatureConfig) -> dict[str, float]:
    if len(channel_names) < 2:
        return {}
    return _colocalization(crop, labels, channel_names, threshold=config.colocalization_threshold,
                           costes=config.costes)


#: The six CellProfiler modules, in column order: the FeatureConfig switch of the same name turns each on.
_FAMILIES: dict[str, _Family] = {
    "intensity": _per_channel(
        lambda channel, config: _intensity_names(channel),
        lambda image, labels, channel, config: _intensity(image, labels, channel, accelerator=config.accelerator)),
    "sizeshape": _Family(
        lambda channel_names, config: _sizeshape_names(),
        lambda crop, labels, channel_names, config: _sizeshape(labels, accelerator=config.accelerator)),
    "texture": _per_channel(
        lambda channel, config: _texture_names(channel, config.texture_scales, config.texture_levels),
        lambda image, labels, channel, config: _texture(image, labels, channel, scales=config.texture_scales,
                                                        levels=config.texture_levels,
                                                        accelerator=config.accelerator)),
    "granularity": _per_channel(
        lambda channel, config: _granularity_names(channel, config.granularity_spectrum),
        lambda image, labels, channel, config: _granularity(
            image, labels, channel, spectrum=config.granularity_spectrum, subsample=config.granularity_subsample,
            background_subsample=config.granularity_background_subsample,
            element_size=config.granularity_element_size)),
    "radial_distribution": _per_channel(
        lambda channel, config: _radial_names(channel, config.radial_bins, config.radial_zernikes),
        lambda image, labels, channel, config: _radial_distribution(image, labels, channel, bins=config.radial_bins,
                                                                    zernikes=config.radial_zernikes)),
    "colocalization": _Family(_pair_columns, _pair_measure),
}


def measure_cell(crop: np.ndarray, mask: np.ndarray, channel_names: Sequence[str],
                 config: FeatureConfig | None = None) -> dict[str, float]:
    """Every configured CellProfiler feature of one cell, in :func:`feature_columns` order.

    The crop is validated once here; each family then measures it directly.

    Parameters
    ----------
    crop : numpy.ndarray, shape (H, W, C), float in [0, 1]
        As CellProfiler loads it (uint16 counts / 65535); never normalised per cell.
    mask : numpy.ndarray, shape (H, W), bool
        The cell (see :func:`cellprofiler_features.masks.cell_mask`).
    channel_names : sequence of str, length C
    config : FeatureConfig, optional

    Returns
    -------
    dict of str to float

    Raises
    ------
    InputError
        On a wrong shape, non-finite pixels, values outside [0, 1] or an empty mask.

    Examples
    --------
    >>> crop = np.zeros((32, 32, 2)); crop[8:24, 8:24] = 0.25
    >>> features = measure_cell(crop, crop[..., 1] > 0, ["GFP", "RFP"])
    >>> list(features) == feature_columns(["GFP", "RFP"])
    True
    """
    config = config or FeatureConfig()
    crop, labels = _validate_crop(crop, mask, channels=1)
    if crop.shape[-1] != len(channel_names):
        raise InputError(f"channel_names must name every channel. Received: {len(channel_names)} names for "
                         f"crop.shape={crop.shape}")
    out: dict[str, float] = {}
    for family in config._families:
        out.update(_FAMILIES[family].measure(crop, labels, channel_names, config))
    return out
