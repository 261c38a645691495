"""Style checks over the packages' source: no function longer than 120 lines with its docstring."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("deeploc_keras", "eval", "cellprofiler_features")
MAX_FUNCTION_LINES = 120


def function_lengths(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[tuple[int, str]]:
    """(lines, "path:line name") of every function and method, decorators and docstring included."""
    rows = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    rows.append((node.end_lineno - first + 1, f"{path.relative_to(root)}:{node.lineno} {node.name}"))
    return sorted(rows, reverse=True)


def test_function_lengths_counts_decorators_and_docstring(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "m.py").write_text('@staticmethod\ndef f():\n    """Doc."""\n    return 1\n\n\nclass C:\n'
                                  '    def g(self):\n        pass\n')
    assert function_lengths(tmp_path, ("pkg",)) == [(4, "pkg/m.py:2 f"), (2, "pkg/m.py:8 g")]


def test_no_function_is_longer_than_120_lines():
    long = [f"{name} ({lines} lines)" for lines, name in function_lengths() if lines > MAX_FUNCTION_LINES]
    assert not long, "split these where a step has a name of its own: " + ", ".join(long)
