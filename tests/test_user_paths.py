"""Docs and examples use what a user has and spell what the commands accept."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USER_FILES = [*sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*"))]


def test_docs_and_examples_do_not_point_at_the_test_data_folder():
    """``../shared/data`` sits beside the project's checkout for its tests; users have no such folder."""
    for path in USER_FILES:
        if path.is_file():
            assert "../shared/data" not in path.read_text(), path.name


def test_examples_install_from_the_checkout_and_name_outputs_with_out():
    for path in sorted((ROOT / "examples").glob("*.sh")):
        text = path.read_text().replace("\\\n", " ")  # continued lines as one
        assert not re.search(r"pip install \S*deeploc-keras\[", text), path.name  # not on a package index
        for line in re.findall(r"^\s*deeploc-keras (?:import|simulate|convert-checkpoint) .*$", text, re.M):
            assert "--out" in line, f"{path.name}: {line.strip()}"


def test_evaluation_docs_build_the_standards_reproduce_reads():
    from deeploc_keras.study.reproduce import STANDARD_NAMES

    text = (ROOT / "docs" / "evaluation.md").read_text()
    built = re.findall(r"--out standards/(\w+)\.gmt", text)
    assert sorted(built) == sorted(STANDARD_NAMES), built
