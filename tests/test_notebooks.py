"""Every notebook runs top to bottom with each cell run twice, then again from the top.

One test per notebook, one fresh kernel, two passes. The first runs every code cell
twice in a row before the next: its first executions, in order from a fresh kernel,
are Run All, and its second ones prove each cell can be run again (Shift+Enter
twice) without breaking itself or a later cell. The second pass runs every cell
once more from the top, on the database the first pass left, so the notebook runs
twice in a row. Three executions of each cell, the fewest that prove all three
claims; the second pass shares the first one's kernel (its start and imports cost
seconds per notebook; a fresh kernel proves nothing the first pass did not).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .notebook_runs import run

NOTEBOOKS = sorted(
    (Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")
)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS[::-1], ids=lambda p: p.name)
def test_a_notebook_runs_with_every_cell_twice_then_again(path: Path) -> None:
    run(path, each_cell_twice=True, then_again=True)
