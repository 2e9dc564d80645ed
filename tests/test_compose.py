"""The README's Docker commands match docker-compose.yml (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from psycopg import conninfo

ROOT = Path(__file__).resolve().parent.parent


def _compose_defaults() -> dict[str, str]:
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"][
        "db"
    ]
    port = re.fullmatch(r"127\.0\.0\.1:\$\{ZAVA_DB_PORT:-(\d+)\}:5432", service["ports"][0])
    password = re.fullmatch(
        r"\$\{POSTGRES_PASSWORD:-(.+)\}", service["environment"]["POSTGRES_PASSWORD"]
    )
    assert port and password, "the port and password come from ZAVA_DB_PORT and POSTGRES_PASSWORD"
    return {
        "user": service["environment"]["POSTGRES_USER"],
        "password": password.group(1),
        "host": "127.0.0.1",
        "port": port.group(1),
        "dbname": service["environment"]["POSTGRES_DB"],
    }


def test_the_readme_url_is_the_compose_servers_and_waits_for_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docker = readme[readme.index("### Docker") : readme.index("### A managed server")]
    commands = [
        line for line in docker.splitlines() if line.lstrip().startswith(("docker", "ZAVA"))
    ]
    assert commands and all("--wait" in line for line in commands if "compose up" in line)
    assert "ZAVA_DB_PORT" in docker and "POSTGRES_PASSWORD" in docker
    urls = re.findall(r"export DATABASE_URL=(\S+)", docker)
    assert conninfo.conninfo_to_dict(urls[0]) == _compose_defaults()
    changed = conninfo.conninfo_to_dict(urls[1])
    example = re.search(r"ZAVA_DB_PORT=(\d+) POSTGRES_PASSWORD=(\S+) docker compose", docker)
    assert example and (changed["port"], changed["password"]) == example.groups()


def test_the_readme_states_the_pinned_pgvector_version() -> None:
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"][
        "db"
    ]
    version = re.search(r":(\d+\.\d+\.\d+)-pg18", service["image"])
    assert version, "the image tag pins pgvector's version"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{service['image']}`" in readme and f"pgvector {version.group(1)}" in readme
