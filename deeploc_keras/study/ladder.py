"""The ladder from chance to ceiling: reference profiles of a store's cells, scored beside the representations.

:func:`reference_profiles` writes the reference representations of :mod:`deeploc_keras.study.references`
for the cells of one split of a store; :func:`score_with_references` computes them on the cells
the given profiles were extracted from and scores everything together with
:func:`eval.score.score`, the references drawn as references in Figure 1 (``score --references``).
``reproduce`` writes the same references for its test cells with :func:`reference_profiles`.

Layout of a references directory (one ``proteins.parquet`` per reference)::

    pixel_statistics/          the 24 pixel statistics (:mod:`deeploc_keras.study.pixel_stats`)
    labels/                    the localization labels (only when the store has labelled cells)
    untrained_<method>/        the untrained twin of a given deeploc or pci run (model/ holds its network)
    oracle/                    the oracle's predicted parameters (given a trained oracle, on a simulated screen)
    generating/                the generating parameters of a simulated screen (given its proteins.csv)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.errors import InputError, file_error
from ..core.outputs import atomic_path, check_output, partial_path, remove_path
from ..core.ownership import check_replaceable
from ..core.profiles import read_profiles
from ..data.store import CellStore, check_split
from ..training.methods import METHODS
from .references import GENERATING, LABELS, ORACLE, PIXEL_STATISTICS, UNTRAINED

__all__ = ["REFERENCES_DIR", "reference_profiles", "score_with_references"]

logger = logging.getLogger(__name__)

#: Sub-directory of a score directory holding the reference profiles of ``score --references``.
REFERENCES_DIR = "references"
_PROTEINS = "proteins.parquet"
_PROTEIN_COLUMN = "Metadata_Protein"


def _untrained_runs(runs: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """Training run directory of each given run (``RUN`` or ``RUN/best.keras``), by method."""
    from ..training.config import TrainConfig

    found: dict[str, Path] = {}
    for given in runs:
        run_dir = Path(given).parent if Path(given).suffix == ".keras" else Path(given)
        if not (run_dir / "best.keras").is_file():
            raise file_error(run_dir, "holds no best.keras; pass a finished training run (RUN or RUN/best.keras)")
        if not (run_dir / "config.json").is_file():
            raise file_error(run_dir, "holds no config.json; pass a training run directory of deeploc-keras train")
        method = TrainConfig.read(run_dir / "config.json").method
        if METHODS[method].display not in UNTRAINED:
            raise file_error(run_dir, f"is a {method!r} run; untrained twins exist for "
                                      f"{[m for m in METHODS if METHODS[m].display in UNTRAINED]}")
        if method in found:
            raise InputError(f"two {method} runs given for untrained twins ({found[method]} and {run_dir}); "
                             "pass one run per method")
        found[method] = run_dir
    return found


def reference_profiles(
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    split: str = "test",
    untrained: Sequence[str | os.PathLike] = (),
    layers: Mapping[str, str] | None = None,
    generating: str | os.PathLike | None = None,
    oracle: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write the reference profiles of the cells of one split of a store.

    Always the pixel statistics; the localization labels when the split has labelled
    cells; the untrained twin (:func:`deeploc_keras.study.references.untrained_model`, then
    :func:`deeploc_keras.inference.extract.extract`) of each given run; the generating parameters
    of the proteins with cells in the split when ``generating`` is given. The directory
    appears only when complete.

    Parameters
    ----------
    store : str or os.PathLike
        A cell store with protein ids.
    out : str or os.PathLike
        Directory to create (see the module docstring for its layout).
    split : {"train", "val", "test", "all"}, default "test"
    untrained : sequence of path, default ()
        Finished ``deeploc`` or ``pci`` training runs (``RUN`` or ``RUN/best.keras``), one per method.
    layers : mapping of str to str, optional
        Method -> layer the untrained twin is read at (default the method's, ``fc_2`` / ``conv4_1``).
    generating : str or os.PathLike, optional
        A simulated screen's ``proteins.csv`` (:func:`deeploc_keras.study.references.generating_profiles`).
    oracle : str or os.PathLike, optional
        A trained oracle (:func:`deeploc_keras.study.oracle.train_oracle`): adds its profile of the split's cells.
    overwrite : bool, default False

    Returns
    -------
    dict of str to pathlib.Path
        ``proteins.parquet`` of each reference, by its display name
        (:data:`deeploc_keras.study.references.REFERENCE_NAMES`).

    Raises
    ------
    InputError
        A missing or invalid store, an unknown split, a split without cells, a run without
        ``best.keras`` or of another method, or two runs of one method.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with CellStore.create(folder / "cells.h5", class_names=["ER", "NUCLEI"]) as writer:
    ...     writer.append(np.arange(4 * 64 * 64 * 2, dtype=np.uint16).reshape(4, 64, 64, 2) % 97,
    ...                   {"label": [0, 0, 1, 1], "protein": ["A", "A", "B", "B"], "split": [2, 2, 2, 2]})
    >>> files = reference_profiles(folder / "cells.h5", folder / "references")
    >>> {name: path.relative_to(folder).as_posix() for name, path in files.items()}
    {'Pixel statistics': 'references/pixel_statistics/proteins.parquet', 'Localization labels': 'references/labels/proteins.parquet'}
    """
    from ..inference.extract import extract
    from .pixel_stats import pixel_statistics_profiles
    from .references import generating_profiles, label_profiles, untrained_model

    check_split(split)
    out = check_output(out, overwrite=overwrite)
    runs = _untrained_runs(untrained)
    with CellStore.open(store) as opened:
        opened.require_proteins()
        labelled = bool(opened.class_names) and opened.select(split, labelled=True).size > 0
    layers = dict(layers or {})
    files: dict[str, Path] = {}
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        pixel_statistics_profiles(store, tmp / "pixel_statistics", split=split)
        files[PIXEL_STATISTICS] = Path("pixel_statistics")
        if labelled:
            label_profiles(store, tmp / "labels", split=split)
            files[LABELS] = Path("labels")
        for method, run_dir in runs.items():
            folder = f"untrained_{method}"
            model = untrained_model(run_dir, store, tmp / folder / "model")
            extract(store, tmp / folder, method=method, model_path=model,
                    layer=layers.get(method, METHODS[method].default_layer), split=split)
            files[UNTRAINED[METHODS[method].display]] = Path(folder)
        if generating is not None:
            with CellStore.open(store) as opened:
                class_names = list(opened.class_names)
            proteins = pd.read_parquet(tmp / "pixel_statistics" / _PROTEINS, columns=["Metadata_Protein"])
            generating_profiles(generating, tmp / "generating", class_names=class_names,
                                proteins=proteins["Metadata_Protein"].astype(str).tolist())
            files[GENERATING] = Path("generating")
        if oracle is not None:
            from .oracle import oracle_profiles

            oracle_profiles(oracle, store, tmp / "oracle", split=split)
            files[ORACLE] = Path("oracle")
    logger.info("reference profiles of split %r of %s: %s", split, store, ", ".join(files))
    return {name: out / folder / _PROTEINS for name, folder in files.items()}


def _recorded_split(profiles: Sequence[Any], *, id_column: str) -> tuple[str | None, list[tuple[str, set[str]]]]:
    """The split the profile files record (None: none records one) and each input's protein ids."""
    splits: dict[str, str] = {}
    ids = []
    for i, source in enumerate(profiles, start=1):
        table = read_profiles(source, metadata_columns=[id_column])
        where = f"profiles{i}" if isinstance(source, pd.DataFrame) else os.fspath(source)
        if id_column in table.meta:
            ids.append((where, set(table.meta[id_column].astype(str))))
        if table.info.get("split"):
            splits.setdefault(str(table.info["split"]), where)
    if len(splits) > 1:
        raise InputError("the profiles were extracted from different splits "
                         f"({', '.join(f'{s!r} in {w}' for s, w in splits.items())}); score one split at a time")
    return next(iter(splits), None), ids


def _canonical(ids: set[str], aliases: Mapping[str, str]) -> set[str]:
    """Ids matched as :func:`eval.standards.restrict` matches them (case-insensitive, after the aliases)."""
    return {aliases.get(key, key) for key in (i.strip().upper() for i in ids)}


def _check_overlap(store: str | os.PathLike, split: str, ids: list[tuple[str, set[str]]],
                   aliases: Mapping[str, str]) -> None:
    """Refuse a profile input that shares no protein with the cells of the split of the store."""
    with CellStore.open(store) as opened:
        opened.require_proteins()
        selected = opened.select(split)
        if selected.size == 0:
            raise file_error(opened.path, f"no cells in split {split!r} to compute the references on")
        proteins = _canonical(set(opened.cells["protein"].to_numpy()[selected].astype(str)), aliases)
    for where, own in ids:
        if not _canonical(own, aliases) & proteins:
            raise file_error(store, f"shares no protein of split {split!r} with {where} (e.g. "
                                    f"{', '.join(sorted(own)[:3])}); pass the store these profiles were extracted from")


def _standards_paths(standards: Any) -> list[Any]:
    """The standard files or folders given (none when the standards are given loaded)."""
    if isinstance(standards, str | os.PathLike):
        return [standards]
    return [] if isinstance(standards, Mapping) else list(standards)


def score_with_references(
    profiles: Sequence[str | os.PathLike | pd.DataFrame],
    standards: Sequence[str | os.PathLike] | Mapping[str, Mapping[str, set[str]]],
    out: str | os.PathLike,
    *,
    store: str | os.PathLike,
    split: str | None = None,
    untrained: Sequence[str | os.PathLike] = (),
    generating: str | os.PathLike | None = None,
    names: Sequence[str] | None = None,
    id_column: str = _PROTEIN_COLUMN,
    aliases: str | os.PathLike | Mapping[str, str] | None = None,
    overwrite: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Score representations with the ladder's reference rows computed on the same cells (``score --references``).

    The references (:func:`reference_profiles`) are written to ``OUT/references/`` and scored
    with the profiles by :func:`eval.score.score`, named as :mod:`deeploc_keras.study.references`
    names them and passed as ``references`` (Figure 1 draws them grey and hatched; they are
    tested only when named in ``compare_to``, as baselines). ``OUT`` appears only when complete.

    Parameters
    ----------
    profiles, standards, out
        As :func:`eval.score.score`.
    store : str or os.PathLike
        The cell store the profiles were extracted from.
    split : {"train", "val", "test", "all"}, optional
        Cells of the references; default the split the profile files record, else ``"test"``.
        A split other than the recorded one is refused.
    untrained : sequence of path, default ()
        Training runs (``RUN`` or ``RUN/best.keras``, one per method) whose untrained twin is added.
    generating : str or os.PathLike, optional
        A simulated screen's ``proteins.csv``: adds its generating parameters (the ceiling).
    names : sequence of str, optional
        One display name per profile file (default: as :func:`eval.score.score` names them).
    id_column : str, default "Metadata_Protein"
    aliases : path or mapping, optional
        As :func:`eval.score.score`; also used to match the store's proteins with the profiles'.
    overwrite : bool, default False
    **options
        Passed to :func:`eval.score.score` (``metrics``, ``seed``, ``n_bootstrap``, ``compare_to``, ...).

    Returns
    -------
    pandas.DataFrame
        The summary table, reference rows included.

    Raises
    ------
    InputError
        As :func:`reference_profiles` and :func:`eval.score.score`; profile files recording
        different splits or a split other than ``split``; a profile input sharing no protein
        with the split's cells.
    OutputExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    from eval import score as _score
    from eval import standards as _standards

    out = check_output(out, overwrite=overwrite)
    inputs = [*profiles, *_standards_paths(standards), aliases, store, *untrained, generating]
    check_replaceable(out, command="score", inputs=inputs)
    if not profiles:
        raise InputError("no profile files given")
    if names and len(names) != len(profiles):
        raise InputError(f"give one --name per profile file. Received: {len(names)} names for {len(profiles)} files")
    if id_column != _PROTEIN_COLUMN:
        raise InputError(f"the reference profiles carry their ids in {_PROTEIN_COLUMN}; score profiles with that "
                         f"column (Received: id_column={id_column!r})")
    recorded, ids = _recorded_split(profiles, id_column=id_column)
    if split is not None and recorded is not None and split != recorded:
        raise InputError(f"the profiles were extracted from split {recorded!r}, not {split!r}; the references must be "
                         f"computed on the same cells (pass --references-split {recorded} or leave it out)")
    split = check_split(split or recorded or "test")
    alias_map = _standards.read_aliases(aliases) if isinstance(aliases, str | os.PathLike) else aliases
    _check_overlap(store, split, ids, alias_map or {})
    staging = partial_path(out)
    try:
        files = reference_profiles(store, staging / REFERENCES_DIR, split=split, untrained=untrained,
                                   generating=generating)
        with atomic_path(out, overwrite=overwrite, owner="score", inputs=inputs) as tmp:
            summary = _score.score([*profiles, *files.values()], standards, tmp,
                                   names=[*(names or [None] * len(profiles)), *files], references=list(files),
                                   id_column=id_column, aliases=alias_map, **options)
            os.replace(staging / REFERENCES_DIR, tmp / REFERENCES_DIR)
    finally:
        remove_path(staging)
    return summary
