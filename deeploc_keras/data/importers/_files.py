"""Image files of a screen found by name: channel patterns, protein folders, the axes of a TIFF, crop sizes.

A *channel pattern* is a file-name pattern with one ``*`` (``GFP=*_ch1.tif``); the text the ``*`` stands
for is the file's *key*, and the files of one cell (or field) are those sharing a key, one per pattern. A
pattern may name several channels when its files hold them all (one multi-channel TIFF per cell).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.errors import InputError, file_error
from ._common import natural_key

__all__ = ["ChannelPattern", "parse_channel_patterns", "FileGroup", "find_file_groups", "cell_axes", "as_cells",
           "fit_crops", "TIFF_SUFFIXES"]

#: File name endings read as TIFF when no pattern names the files.
TIFF_SUFFIXES = (".tif", ".tiff", ".TIF", ".TIFF")


@dataclass(frozen=True)
class ChannelPattern:
    """A file-name pattern with one ``*`` and the channels its files hold.

    Examples
    --------
    >>> pattern = ChannelPattern(("GFP",), "*_ch1.tif")
    >>> pattern.key("cell3_ch1.tif"), pattern.key("cell3_ch2.tif")
    ('cell3', None)
    >>> str(pattern)
    'GFP=*_ch1.tif'
    """

    names: tuple[str, ...]
    pattern: str

    def key(self, file_name: str) -> str | None:
        """The text ``*`` stands for in ``file_name`` (not empty), or None when the name does not match."""
        head, tail = self.pattern.split("*")
        if len(file_name) <= len(head) + len(tail) or not (file_name.startswith(head) and file_name.endswith(tail)):
            return None
        return file_name[len(head):len(file_name) - len(tail)]

    def file_name(self, key: str) -> str:
        """The file name of ``key`` under this pattern."""
        return self.pattern.replace("*", key)

    def __str__(self) -> str:
        return f"{'+'.join(self.names)}={self.pattern}"


def parse_channel_patterns(value: Mapping[str, str] | Sequence[str] | str | None) -> tuple[ChannelPattern, ...] | None:
    """Parse ``{"GFP": "*_ch1.tif"}`` or ``["GFP=*_ch1.tif", ...]`` into channel patterns (None stays None).

    Raises
    ------
    InputError
        A pattern without ``NAME=``, without exactly one ``*``, with a path separator, or repeated names.

    Examples
    --------
    >>> [str(p) for p in parse_channel_patterns(["GFP=*_ch1.tif", "RFP=*_ch2.tif"])]
    ['GFP=*_ch1.tif', 'RFP=*_ch2.tif']
    >>> parse_channel_patterns(["GFP=ch1.tif"])
    Traceback (most recent call last):
    ...
    deeploc_keras.core.errors.InputError: channel pattern 'GFP=ch1.tif' needs exactly one '*' standing for the cell's part of the file name (and no other wildcard), e.g. GFP=*_ch1.tif
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        items = [(str(k), str(v)) for k, v in value.items()]
    else:
        items = []
        for text in [value] if isinstance(value, str) else value:
            name, sep, pattern = str(text).partition("=")
            if not sep or not name.strip() or not pattern.strip():
                raise InputError(f"channel pattern {text!r} must read NAME=PATTERN, e.g. GFP=*_ch1.tif")
            items.append((name.strip(), pattern.strip()))
    patterns = []
    for name, pattern in items:
        if pattern.count("*") != 1 or "?" in pattern or "[" in pattern:
            raise InputError(f"channel pattern '{name}={pattern}' needs exactly one '*' standing for the cell's part "
                             f"of the file name (and no other wildcard), e.g. {name}=*_ch1.tif")
        if "/" in pattern or os.sep in pattern:
            raise InputError(f"channel pattern '{name}={pattern}' names files inside the folders given, without a path")
        patterns.append(ChannelPattern((name,), pattern))
    names = [p.names[0] for p in patterns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated or not patterns:
        raise InputError(f"channel patterns need one pattern per channel name. Received: {[str(p) for p in patterns]}")
    return tuple(patterns)


@dataclass(frozen=True)
class FileGroup:
    """The files of one cell (or field, or stack): one per channel pattern, in pattern order."""

    protein: str
    key: str
    files: tuple[Path, ...]


def find_file_groups(sources: Sequence[str | os.PathLike], patterns: Sequence[ChannelPattern], *,
                     protein_from: str = "folder", exclude: ChannelPattern | None = None) -> list[FileGroup]:
    """Group the files under ``sources`` by key, one file per pattern.

    Parameters
    ----------
    sources : sequence of path
        Folders. With ``protein_from="folder"`` a folder holding matching files is one protein
        (named after it), otherwise each of its sub-folders holding some is; with ``"key"`` the
        files of every source folder are grouped and each key is a protein.
    patterns : sequence of ChannelPattern
    protein_from : {"folder", "key"}, default "folder"
    exclude : ChannelPattern, optional
        Files it matches are no channel file (masks beside their fields).

    Returns
    -------
    list of FileGroup
        Folders in the order given then in natural order, keys in natural order.

    Raises
    ------
    InputError
        A missing folder, a folder without matching files, a file whose partner of another
        channel is missing (naming the file and the partner expected).
    """
    groups = []
    for source in map(Path, sources):
        if not source.is_dir():
            raise file_error(source, "no such folder" if not source.exists() else "not a folder; give folders of TIFF files")
        if protein_from == "key" or _matches(source, patterns, exclude):
            folders = [source]
        else:
            folders = sorted((d for d in source.iterdir() if d.is_dir() and _matches(d, patterns, exclude)),
                             key=lambda d: natural_key(d.name))
        if not folders:
            raise file_error(source, f"no {_describe(patterns)} files in it or its sub-folders")
        for folder in folders:
            found = _group_folder(folder, patterns, exclude)
            if not found:
                raise file_error(folder, f"no {_describe(patterns)} files in it")
            groups.extend(FileGroup(key if protein_from == "key" else folder.name, key, files)
                          for key, files in found)
    return groups


def _describe(patterns: Sequence[ChannelPattern]) -> str:
    return " / ".join(f"'{p.pattern}'" for p in patterns)


def _matches(folder: Path, patterns: Sequence[ChannelPattern], exclude: ChannelPattern | None) -> bool:
    return any(p.key(f.name) is not None and (exclude is None or exclude.key(f.name) is None)
               for f in folder.iterdir() if f.is_file() for p in patterns)


def _group_folder(folder: Path, patterns: Sequence[ChannelPattern],
                  exclude: ChannelPattern | None) -> list[tuple[str, tuple[Path, ...]]]:
    names = {f.name for f in folder.iterdir() if f.is_file()}
    if exclude is not None:
        names = {n for n in names if exclude.key(n) is None}
    keys: dict[str, None] = {}
    for pattern in patterns:
        for name in names:
            key = pattern.key(name)
            if key is None:
                continue
            for other in patterns:
                if other is not pattern and other.file_name(key) not in names:
                    raise file_error(folder / name, f"has no '{other.pattern}' partner (expected {other.file_name(key)})")
            keys[key] = None
    return [(key, tuple(folder / p.file_name(key) for p in patterns)) for key in sorted(keys, key=natural_key)]


#: How a TIFF's axes map to cells: (axes after squeezing) -> function to (n, H, W, C).
_TO_CELLS = {
    "YX": lambda a: a[None, :, :, None],
    "CYX": lambda a: np.moveaxis(a, 0, -1)[None],
    "YXC": lambda a: a[None],
    "NYX": lambda a: a[..., None],
    "NCYX": lambda a: np.moveaxis(a, 1, -1),
    "NYXC": lambda a: a,
}


def cell_axes(shape: Sequence[int], channels: int, *, path: Path, stack: bool) -> str:
    """The axes of a TIFF of ``shape`` that holds ``channels`` channels: ``YX``, ``CYX``, ``YXC`` or, for a stack
    of cells, ``NYX``, ``NCYX``, ``NYXC``.

    The channel axis is the first or the last one of size ``channels`` (the first when both are).

    Raises
    ------
    InputError
        Naming the file: another number of channels, several cells where one is expected, another rank.

    Examples
    --------
    >>> cell_axes((2, 80, 80), 2, path=Path("c.tif"), stack=False), cell_axes((80, 80, 2), 2, path=Path("c.tif"), stack=False)
    ('CYX', 'YXC')
    >>> cell_axes((30, 64, 64), 1, path=Path("p.tif"), stack=True)
    'NYX'
    """
    shape = tuple(int(v) for v in shape)
    if len(shape) == 2 and channels == 1:
        return "YX"
    if len(shape) == 3 and channels == 1 and stack:
        return "NYX"
    if len(shape) == 3 and channels > 1:
        if shape[0] == channels:
            return "CYX"
        if shape[-1] == channels:
            return "YXC"
    if len(shape) == 4 and stack:
        if shape[1] == channels:
            return "NCYX"
        if shape[-1] == channels:
            return "NYXC"
    expected = f"{channels} channel{'s' if channels > 1 else ''} on the first or last axis"
    if not stack and (len(shape) == 4 or len(shape) == 3 and channels == 1):
        raise file_error(path, f"holds several images (shape {shape}) but one cell per file is expected with "
                               f"{expected}; one multi-page stack per protein: --layout stacks")
    raise file_error(path, f"expected {'a stack of cells with ' if stack else 'a cell with '}{expected}. Received: "
                           f"shape={shape}; name the channels with --channels (or --channel NAME=PATTERN per file)")


def as_cells(image: np.ndarray, axes: str) -> np.ndarray:
    """A TIFF's pixels in the axes :func:`cell_axes` found, as cells ``(n, H, W, C)``.

    Examples
    --------
    >>> as_cells(np.zeros((2, 5, 6)), "CYX").shape
    (1, 5, 6, 2)
    """
    return _TO_CELLS[axes](np.asarray(image))


def fit_crops(images: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop or zero-pad cells ``(n, H, W, C)`` to ``(n, size, size, C)``, each side on its own.

    A side larger than ``size`` keeps its middle ``size`` pixels (from ``(H - size) // 2``); a smaller
    one is padded with zeros, ``(size - H) // 2`` before it.

    Examples
    --------
    >>> cells = np.arange(3 * 6 * 2).reshape(1, 3, 6, 2)
    >>> fitted = fit_crops(cells, 5)
    >>> fitted.shape, fitted[0, 0, :, 0].tolist(), fitted[0, 1, :, 0].tolist()
    ((1, 5, 5, 2), [0, 0, 0, 0, 0], [0, 2, 4, 6, 8])
    """
    out = images
    for axis in (1, 2):
        side = out.shape[axis]
        if side > size:
            start = (side - size) // 2
            out = np.take(out, np.arange(start, start + size), axis=axis)
        elif side < size:
            before = (size - side) // 2
            pad = [(0, 0)] * out.ndim
            pad[axis] = (before, size - side - before)
            out = np.pad(out, pad)
    return out
