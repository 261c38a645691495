"""Localization labels from a published table: one class per protein, for the importers.

:func:`huh2003_labels` is the one builder of labels from the Huh et al. (2003) YeastGFP table
(``import --labels-from huh2003``, ``standards labels --from huh2003``, the ``protein,label``
CSV of ``--labels``): each ORF gets one of the 17 DeepLoc localization classes
(:data:`LABEL_CLASSES`) through the package's category map
(:data:`deeploc_keras.data.synthetic.grounded.HUH_CLASSES`). The rule:

- a row flagged ``ambiguous`` gets no label, nor does a row without any location;
- an ORF whose locations map to one class gets it;
- an ORF whose locations map to several classes (multi-localized) gets, with
  ``multi="rarest"`` (the default), the class carried by the fewest ORFs of the table
  (the most specific one: cytoplasm and nucleus, the commonest, give way to any other;
  ties go to the class listed first in :data:`LABEL_CLASSES`), or no label with ``multi="drop"``.

These are the rules of the package's grounded synthetic screen (its primary class), so a
model trained on the real screen and on the simulated one sees the same classes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import InputError, file_error
from ...core.outputs import atomic_path
from ..synthetic.annotations import ANNOTATION_FILES, HUH_CATEGORIES, package_annotations
from ..synthetic.grounded import HUH_CLASSES
from ..synthetic.hierarchy import LOCALIZATION_CLASSES
from . import LABEL_SOURCES
from ._common import require_file

__all__ = ["LABEL_SOURCES", "MULTI_RULES", "LABEL_CLASSES", "huh2003_labels", "write_labels_csv"]

logger = logging.getLogger(__name__)

#: What a multi-localized protein gets: its rarest class, or no label.
MULTI_RULES = ("rarest", "drop")
#: The classes of a Huh 2003 labels CSV (the 17 DeepLoc localization classes, Chong et al. order).
LABEL_CLASSES: tuple[str, ...] = LOCALIZATION_CLASSES


def _read_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError,
            ValueError) as exc:
        raise file_error(path, f"not a readable CSV table: {str(exc).splitlines()[0]}") from None
    missing = [c for c in ("yORF", "ambiguous", *HUH_CATEGORIES) if c not in table.columns]
    if missing:
        raise file_error(path, f"not the Huh 2003 YeastGFP table: missing columns {missing[:4]}")
    return table


def huh2003_labels(
    path: str | os.PathLike | None = None,
    *,
    multi: str = "rarest",
    aliases: str | os.PathLike | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One localization class per protein from the Huh 2003 YeastGFP table.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The YeastGFP CSV (``yORF``, ``ambiguous`` and the 22 location columns of ``T``/``F``;
        optionally compressed, e.g. ``.csv.xz``); default the package's copy.
    multi : {"rarest", "drop"}, default "rarest"
        The rule for multi-localized proteins (module docstring).
    aliases : str, os.PathLike or mapping of str to str, optional
        ``SGD_features.tab``, or upper-case gene name or alias -> ORF (:func:`eval.standards.read_aliases`):
        every name of a labelled ORF gets a row too, so the labels also match folders named by gene.

    Returns
    -------
    pandas.DataFrame
        Columns ``protein`` and ``label``: the labelled ORFs in table order, then the alias rows
        sorted by name.

    Raises
    ------
    InputError
        An unknown ``multi``, or a file that is not the YeastGFP table.

    Examples
    --------
    >>> import io, tempfile, pathlib
    >>> from deeploc_keras.data.synthetic.annotations import HUH_CATEGORIES
    >>> rows = {"YAL001C": {"nucleus", "cytoplasm"}, "YAL002W": {"endosome"}, "YAL003W": {"cytoplasm"},
    ...         "YAL004W": set()}
    >>> lines = [",".join(["yORF", "ambiguous", *HUH_CATEGORIES])]
    >>> lines += [",".join([orf, "F", *("T" if c in where else "F" for c in HUH_CATEGORIES)])
    ...           for orf, where in rows.items()]
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "huh.csv"
    >>> _ = path.write_text("\\n".join(lines) + "\\n")
    >>> huh2003_labels(path).values.tolist()
    [['YAL001C', 'NUCLEI'], ['YAL002W', 'ENDOSOME'], ['YAL003W', 'CYTOPLASM']]
    >>> huh2003_labels(path, multi="drop")["protein"].tolist()
    ['YAL002W', 'YAL003W']
    >>> huh2003_labels(aliases={"AAR2": "YBL074C"}).set_index("protein").loc[["YBL074C", "AAR2"], "label"].tolist()
    ['NUCLEI', 'NUCLEI']
    """
    from eval.standards import read_aliases

    if multi not in MULTI_RULES:
        raise InputError(f"unknown multi rule {multi!r}; expected one of {list(MULTI_RULES)}")
    if path is None:
        path = Path(str(package_annotations() / f"{ANNOTATION_FILES['localization']}.xz"))
    if aliases is not None and not isinstance(aliases, Mapping):
        aliases = read_aliases(aliases)
    path = require_file(path)
    table = _read_table(path)
    classes = np.zeros((len(table), len(LABEL_CLASSES)), bool)
    for category in HUH_CATEGORIES:
        classes[:, LABEL_CLASSES.index(HUH_CLASSES[category])] |= table[category].str.strip().eq("T").to_numpy()
    usable = table["ambiguous"].str.strip().ne("T").to_numpy() & classes.any(axis=1)
    frequency = classes[usable].sum(axis=0)
    rank = np.where(classes, frequency[None, :], np.iinfo(np.int64).max)
    label = np.argmin(rank, axis=1)  # the rarest class; the first listed on a tie
    keep = usable & ((classes.sum(axis=1) == 1) | (multi == "rarest"))
    labels = pd.DataFrame({"protein": table["yORF"].str.strip().to_numpy()[keep],
                           "label": np.asarray(LABEL_CLASSES, dtype=object)[label[keep]]})
    logger.info("%s: %d of %d ORFs labelled (%d ambiguous, %d without a location, %d multi-localized %s)",
                os.fspath(path), keep.sum(), len(table), table["ambiguous"].str.strip().eq("T").sum(),
                (~classes.any(axis=1)).sum(), (usable & (classes.sum(axis=1) > 1)).sum(),
                "as their rarest class" if multi == "rarest" else "dropped")
    if aliases:
        by_orf = dict(zip(labels["protein"].str.upper(), labels["label"], strict=True))
        extra = sorted((name, by_orf[orf]) for name, orf in aliases.items() if orf in by_orf and name not in by_orf)
        labels = pd.concat([labels, pd.DataFrame(extra, columns=["protein", "label"])], ignore_index=True)
    return labels


def write_labels_csv(labels: pd.DataFrame, out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a ``protein,label`` table as the labels CSV of the importers (atomically).

    Parameters
    ----------
    labels : pandas.DataFrame
        Columns ``protein`` and ``label``.
    out : str or os.PathLike
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputExistsError
        If ``out`` exists without ``overwrite``.
    """
    out = Path(out)
    with atomic_path(out, overwrite=overwrite) as tmp:
        labels[["protein", "label"]].to_csv(tmp, index=False)
    return out
