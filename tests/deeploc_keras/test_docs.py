"""Every ```python snippet of README.md and docs/*.md runs, on a tiny trained model and store.

Each snippet runs in a fresh namespace in a folder holding the files the docs name:
``cells.h5``, ``toy.h5`` and ``STORE.h5`` (a 192-cell store), ``runs/deeploc/best.keras`` and
``runs/pci/best.keras`` (width 0.0625, trained 1 epoch), ``profiles/deeploc/{cells,proteins}.parquet``,
``standards/classes.gmt`` and ``my_features.csv`` (protein ids and numeric features).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _snippets() -> list[tuple[str, str]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for k, match in enumerate(_BLOCK.finditer(doc.read_text()), start=1):
            found.append((f"{doc.relative_to(ROOT)}#{k}", match.group(1)))
    return found


SNIPPETS = _snippets()


def test_the_docs_have_python_snippets():
    names = {name.split("#")[0] for name, _ in SNIPPETS}
    assert "README.md" in names and "docs/evaluation.md" in names and len(SNIPPETS) >= 10


@pytest.fixture(scope="module")
def docs_folder(tmp_path_factory, trained_runs, tiny_store, tiny_standards):
    from deeploc_keras.inference.extract import extract

    folder = tmp_path_factory.mktemp("docs")
    for name in ("cells.h5", "toy.h5", "STORE.h5"):
        shutil.copyfile(tiny_store, folder / name)
    for method, path in trained_runs.items():
        (folder / "runs" / method).mkdir(parents=True)
        shutil.copyfile(path, folder / "runs" / method / "best.keras")
    extract(tiny_store, folder / "profiles" / "deeploc", model_path=trained_runs["deeploc"], split="all")
    shutil.copytree(tiny_standards, folder / "standards")
    proteins = pd.read_parquet(folder / "profiles" / "deeploc" / "proteins.parquet")
    mine = proteins.drop(columns=[c for c in proteins if c.startswith("Metadata_")])
    mine.insert(0, "Metadata_Protein", proteins["Metadata_Protein"])
    mine.to_csv(folder / "my_features.csv", index=False)
    return folder


@pytest.mark.parametrize("name,code", SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_doc_snippet_runs(name, code, docs_folder, monkeypatch):
    monkeypatch.chdir(docs_folder)
    exec(compile(code, name, "exec"), {"__name__": "__doc_snippet__"})
