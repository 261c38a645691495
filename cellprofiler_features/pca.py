"""PCA of per-cell CellProfiler features keeping a fraction of the variance (the study's 99%).

Drops all-NaN and constant columns (logged with counts), imputes the remaining
NaN with the column mean, z-scores (``StandardScaler``) and wraps scikit-learn's
``PCA(n_components=variance, svd_solver="full")``. The fitted transform saves to
one ``.npz`` (arrays plus the kept column names as JSON) so new data projects
identically.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from deeploc_keras.core.errors import InputError, file_error
from deeploc_keras.core.outputs import atomic_path

__all__ = ["CellProfilerPCA", "validate_variance"]

logger = logging.getLogger(__name__)


def validate_variance(variance: float) -> float:
    """Return ``variance`` as a float if it is a fraction in (0, 1]; raise :class:`InputError` otherwise.

    Examples
    --------
    >>> validate_variance(0.99)
    0.99
    """
    if isinstance(variance, bool) or not isinstance(variance, (int, float, np.floating)) or not 0 < variance <= 1:
        raise InputError(f"variance must be a fraction in (0, 1] (e.g. 0.99). Received: variance={variance!r}")
    return float(variance)


class CellProfilerPCA(TransformerMixin, BaseEstimator):
    """Clean, z-score and project per-cell features onto the components keeping ``variance``.

    Parameters
    ----------
    variance : float, default 0.99
        Fraction of the (z-scored) variance to keep, in (0, 1]; 1 keeps every component.
    seed : int, default 0
        ``random_state`` of the PCA (the full SVD is deterministic; kept for the contract).

    Attributes
    ----------
    feature_names_in_ : numpy.ndarray of str
        Input column names (``x0, x1, ...`` for a plain array).
    kept_ : numpy.ndarray of bool
        Columns kept (not all-NaN, not constant).
    impute_ : numpy.ndarray
        Mean of each kept column, used for NaN.
    scaler_ : sklearn.preprocessing.StandardScaler
    pca_ : sklearn.decomposition.PCA
    n_components_ : int
    explained_variance_ratio_ : numpy.ndarray

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 4)) @ np.diag([5, 1, 0.1, 0.0])
    >>> pca = CellProfilerPCA(0.9).fit(x)
    >>> int(pca.kept_.sum()), pca.transform(x).shape[1] <= 3
    (3, True)
    """

    def __init__(self, variance: float = 0.99, *, seed: int = 0) -> None:
        self.variance = variance
        self.seed = seed

    def _check_x(self, x, *, fitting: bool) -> np.ndarray:
        names = list(x.columns) if hasattr(x, "columns") else None
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise InputError(f"features must be a non-empty (cells, features) matrix. Received: shape={x.shape}")
        if np.isinf(x).any():
            raise InputError(f"features contain {int(np.isinf(x).sum())} infinite values; expected finite or NaN")
        if fitting:
            self.feature_names_in_ = np.asarray(names or [f"x{i}" for i in range(x.shape[1])], dtype=object)
        elif x.shape[1] != len(self.feature_names_in_):
            raise InputError(f"features must have the {len(self.feature_names_in_)} columns seen in fit. "
                             f"Received: {x.shape[1]} columns")
        elif names is not None and list(names) != list(self.feature_names_in_):
            raise InputError("feature columns differ from those seen in fit (names or order)")
        return x

    def fit(self, x, y=None) -> CellProfilerPCA:
        """Fit on per-cell features.

        Parameters
        ----------
        x : array-like or pandas.DataFrame, shape (n_cells, n_features)
            NaN allowed.
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        InputError
            If ``variance`` is outside (0, 1], the matrix is empty, or no column varies.
        """
        variance = validate_variance(self.variance)
        x = self._check_x(x, fitting=True)
        finite = np.isfinite(x)
        all_nan = ~finite.any(axis=0)
        with np.errstate(all="ignore"):
            low = np.where(finite, x, np.inf).min(axis=0)
            high = np.where(finite, x, -np.inf).max(axis=0)
        constant = ~all_nan & (high <= low)
        self.kept_ = ~(all_nan | constant)
        logger.info("PCA input: %d cells x %d features; dropped %d all-NaN and %d constant columns; %d NaN values "
                    "imputed", x.shape[0], x.shape[1], int(all_nan.sum()), int(constant.sum()),
                    int((~finite[:, self.kept_]).sum()))
        if not self.kept_.any():
            raise InputError(f"no feature varies across the {x.shape[0]} cells; PCA needs at least one "
                             f"non-constant column")
        kept = x[:, self.kept_]
        with np.errstate(all="ignore"):
            self.impute_ = np.nanmean(kept, axis=0)
        imputed = self._impute(kept)
        self.scaler_ = StandardScaler().fit(imputed)
        z = self.scaler_.transform(imputed)
        self.pca_ = PCA(n_components=None if variance == 1.0 else variance, svd_solver="full",
                        random_state=self.seed).fit(z)
        self.n_components_ = int(self.pca_.n_components_)
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        logger.info("PCA keeps %d components (%.4f of the variance)", self.n_components_,
                    float(self.explained_variance_ratio_.sum()))
        return self

    def _impute(self, kept: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(kept), kept, self.impute_)

    def transform(self, x) -> np.ndarray:
        """Project features (same columns as in fit).

        Parameters
        ----------
        x : array-like or pandas.DataFrame, shape (n_cells, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_cells, n_components_)
        """
        check_is_fitted(self, "pca_")
        x = self._check_x(x, fitting=False)
        return self.pca_.transform(self.scaler_.transform(self._impute(x[:, self.kept_])))

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save the fitted transform as ``.npz`` (arrays + JSON of the column names), atomically.

        Parameters
        ----------
        path : str or os.PathLike
        overwrite : bool, default False

        Returns
        -------
        pathlib.Path
        """
        check_is_fitted(self, "pca_")
        path = Path(path)
        meta = {"variance": float(self.variance), "seed": int(self.seed),
                "feature_names": [str(n) for n in self.feature_names_in_], "format": "CellProfilerPCA/1"}
        arrays = {
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            "kept": self.kept_, "impute": self.impute_,
            "scaler_mean": self.scaler_.mean_, "scaler_scale": self.scaler_.scale_, "scaler_var": self.scaler_.var_,
            "components": self.pca_.components_, "pca_mean": self.pca_.mean_,
            "explained_variance": self.pca_.explained_variance_,
            "explained_variance_ratio": self.pca_.explained_variance_ratio_,
            "singular_values": self.pca_.singular_values_,
            "noise_variance": np.asarray(self.pca_.noise_variance_),
            "n_samples": np.asarray(self.pca_.n_samples_),
        }
        with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> CellProfilerPCA:
        """Load a transform written by :meth:`save`.

        Raises
        ------
        InputError
            If the file is missing or not a saved CellProfilerPCA.
        """
        path = Path(path)
        if not path.is_file():
            raise file_error(path, "no such file")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            meta = json.loads(arrays["meta"].tobytes())
        except (OSError, ValueError, KeyError) as exc:
            raise file_error(path, f"not a saved CellProfilerPCA (.npz): {exc}") from None
        self = cls(meta["variance"], seed=meta["seed"])
        self.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
        self.kept_ = arrays["kept"].astype(bool)
        self.impute_ = arrays["impute"]
        self.scaler_ = StandardScaler()
        self.scaler_.mean_, self.scaler_.scale_, self.scaler_.var_ = (arrays["scaler_mean"], arrays["scaler_scale"],
                                                                      arrays["scaler_var"])
        self.scaler_.n_features_in_ = int(self.kept_.sum())
        self.scaler_.n_samples_seen_ = int(arrays["n_samples"])
        pca = self.pca_ = PCA(n_components=len(arrays["components"]), svd_solver="full", random_state=self.seed)
        pca.components_, pca.mean_ = arrays["components"], arrays["pca_mean"]
        pca.explained_variance_, pca.explained_variance_ratio_ = (arrays["explained_variance"],
                                                                  arrays["explained_variance_ratio"])
        pca.singular_values_, pca.noise_variance_ = arrays["singular_values"], float(arrays["noise_variance"])
        pca.n_components_, pca.n_samples_ = len(arrays["components"]), int(arrays["n_samples"])
        pca.n_features_in_ = int(self.kept_.sum())
        self.n_components_ = pca.n_components_
        self.explained_variance_ratio_ = pca.explained_variance_ratio_
        return self

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        """Output names ``CellProfilerPCA_pc_0000``, ... (the profile column names)."""
        check_is_fitted(self, "pca_")
        return np.asarray([f"CellProfilerPCA_pc_{i:04d}" for i in range(self.n_components_)], dtype=object)
