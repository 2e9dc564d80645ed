"""Every notebook, once, on the managed-style server (tests/managed.py) through DATABASE_URL.

The administrator there is not a superuser: each notebook reads the truth
without one and skips the superuser-only steps, each with one line saying why.
Once is enough here: tests/test_notebooks.py proves the re-runs on the embedded
server, and the two servers share every code path but these.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import managed
from .notebook_runs import run
from .test_notebooks import NOTEBOOKS

#: The steps the managed-style admin may not take, per notebook, as they print.
SKIPPED = {
    "03_row_level_security.ipynb": [],
    "06_performance.ipynb": ["pg_stat_statements_reset()", "ALTER SYSTEM"],
    "07_backup_restore.ipynb": ["BYPASSRLS", "point-in-time recovery"],
    "08_mcp_server.ipynb": ["BYPASSRLS"],
}


def skipped_lines(notebook) -> list[str]:
    return [
        line
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
        for line in output.get("text", "").splitlines()
        if line.startswith("Skipped here:")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS[::-1], ids=lambda p: p.name)
def test_a_notebook_runs_on_a_managed_server(on_managed: managed.ManagedServer, path: Path) -> None:
    executed = run(path)  # the kernel inherits DATABASE_URL from this process
    lines = skipped_lines(executed)
    print(*lines, sep="\n")
    if on_managed.emulated:
        expected = SKIPPED.get(path.name, [])
        assert len(lines) == len(expected), lines
        assert all(any(word in line for line in lines) for word in expected), lines
