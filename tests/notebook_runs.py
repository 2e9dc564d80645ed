"""Run a notebook in a fresh kernel, as Run All does, or with every code cell run twice.

Shared by every test that executes notebooks, so a failure always names the
notebook, the cell's number and the heading it sits under, and so every run
checks that the notebook left nothing in the temporary folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

#: Seconds one cell may take (seeding at lab scale and embedding are the slowest).
CELL_TIMEOUT = 600


class NotebookFailed(AssertionError):
    """A cell raised; the message says which cell, under which heading, on which run."""


def heading_of(cells: list[Any], index: int) -> str:
    """The nearest markdown heading above cell ``index`` ("(top)" if none)."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            headings = [line for line in cell.source.splitlines() if line.startswith("#")]
            if headings:
                return headings[-1].lstrip("#").strip()
    return "(top)"


def run(
    path: Path, *, each_cell_twice: bool = False, then_again: bool = False
) -> nbformat.NotebookNode:
    """Execute ``path`` top to bottom in a new kernel and return the executed notebook.

    With ``each_cell_twice``, every code cell runs twice in a row (Shift+Enter twice)
    before the next one starts, as an attendee re-running a cell would. With
    ``then_again``, every code cell then runs once more from the top, in the same
    kernel, on the database the first pass left (Run All, a second time).
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    first = ("first run", "second run") if each_cell_twice else ("run",)
    passes = [first, ("run again from the top",)] if then_again else [first]
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.iterdir())
    with client.setup_kernel():
        for runs in passes:
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                for which in runs:
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as error:
                        heading = heading_of(notebook.cells, index)
                        where = f"{path.name}, cell {index} under '{heading}'"
                        raise NotebookFailed(f"{where}, {which}:\n{error}") from None
    # Once its kernel has ended: nothing the notebook made in the temporary folder
    # (a drill's workspace, a server's log, a scratch copy) outlives it.
    left = sorted(str(entry) for entry in set(temporary.iterdir()) - before if entry.exists())
    if left:
        raise NotebookFailed(f"{path.name} left {', '.join(left)} behind")
    return notebook
