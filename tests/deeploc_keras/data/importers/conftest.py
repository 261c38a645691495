"""Shared checks of the importer tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def _check_one_line_error(result, *fragments: str) -> None:
    """Exit code 2, no traceback, exactly one ``Error:`` line containing every fragment."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def assert_one_line_error() -> Callable[..., None]:
    """The one-line error check of the CLI's bad-input contract."""
    return _check_one_line_error
