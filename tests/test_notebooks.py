"""Every notebook runs top to bottom, again right after, and with each cell run twice.

One test per notebook, two fresh kernels: a plain run (Run All), then a run in which
every code cell runs twice in a row before the next. The second run starts from the
database the first one left, so it also proves the notebook runs twice in a row;
its doubled cells prove each cell can be run again (Shift+Enter twice) without
breaking itself or a later cell. That is three executions of each cell, the fewest
that prove all three claims.
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
def test_a_notebook_runs_then_runs_again_with_every_cell_twice(path: Path) -> None:
    run(path)
    run(path, each_cell_twice=True)
