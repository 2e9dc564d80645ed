from pathlib import Path

import pytest

from labkit import settings
from labkit.errors import LabError


def test_defaults_use_the_embedded_server_in_the_checkout() -> None:
    loaded = settings.load({})
    assert loaded.embedded
    assert loaded.port == settings.DEFAULT_PORT
    root = settings.project_root()
    assert root is not None
    assert loaded.data_dir == root / ".labdata"
    assert settings.sql_dir() == root / "sql"


def test_environment_overrides(tmp_path: Path) -> None:
    loaded = settings.load(
        {"LABKIT_DATA_DIR": str(tmp_path), "LABKIT_PORT": "6543", "LABKIT_PG_BIN": str(tmp_path)}
    )
    assert (loaded.data_dir, loaded.port, loaded.pg_bin) == (tmp_path, 6543, tmp_path)


def test_database_url_switches_to_the_external_server() -> None:
    assert not settings.load({"DATABASE_URL": "postgresql://u:p@db.example:5432/zava"}).embedded
    assert settings.load({"DATABASE_URL": ""}).embedded


@pytest.mark.parametrize("port", ["abc", "80", "70000", "-1", "5432.5"])
def test_a_bad_port_says_what_to_set(port: str) -> None:
    with pytest.raises(LabError, match="LABKIT_PORT") as error:
        settings.load({"LABKIT_PORT": port})
    assert "1024 to 65535" in str(error.value)
