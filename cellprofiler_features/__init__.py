"""Handcrafted CellProfiler features per cell (through cp-measure), cell masks, PCA and a parallel runner.

Modules: :mod:`~cellprofiler_features.measure` (one ``measure_<module>`` per CellProfiler module),
:mod:`~cellprofiler_features.masks` (the centred cell's mask), :mod:`~cellprofiler_features.pca`
(99%-variance PCA) and :mod:`~cellprofiler_features.runner` (``extract_cellprofiler``). Never imports
TensorFlow.
"""

from .masks import cell_mask
from .measure import FeatureConfig, family_counts, feature_columns, measure_cell
from .pca import CellProfilerPCA
from .runner import extract_cellprofiler

__all__ = [
    "CellProfilerPCA",
    "FeatureConfig",
    "cell_mask",
    "extract_cellprofiler",
    "family_counts",
    "feature_columns",
    "measure_cell",
]
