"""Every notebook runs on its own and twice in a row, in fresh kernels."""

from __future__ import annotations

from pathlib import Path

import pytest

from .notebook_runs import run

NOTEBOOKS = sorted(
    (Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")
)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS[::-1], ids=lambda p: p.name)
def test_a_notebook_runs_twice_in_a_row(path: Path) -> None:
    run(path)
    run(path)
