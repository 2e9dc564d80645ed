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
    assert loaded.backup_dir == root / "backups"  # beside the data folder, not in it
    assert loaded.backup_keep == settings.DEFAULT_BACKUP_KEEP == 10
    assert settings.sql_dir() == root / "sql"


def test_environment_overrides(tmp_path: Path) -> None:
    loaded = settings.load(
        {"LABKIT_DATA_DIR": str(tmp_path), "LABKIT_PORT": "6543", "LABKIT_PG_BIN": str(tmp_path)}
        | {"LABKIT_BACKUP_DIR": str(tmp_path / "b"), "LABKIT_BACKUP_KEEP": "3"}
    )
    assert (loaded.data_dir, loaded.port, loaded.pg_bin) == (tmp_path, 6543, tmp_path)
    assert (loaded.backup_dir, loaded.backup_keep) == (tmp_path / "b", 3)
    assert settings.load({"LABKIT_BACKUP_KEEP": "0"}).backup_keep == 0  # keep all


def test_database_url_switches_to_the_external_server() -> None:
    assert not settings.load({"DATABASE_URL": "postgresql://u:p@db.example:5432/zava"}).embedded
    assert settings.load({"DATABASE_URL": ""}).embedded


@pytest.mark.parametrize("port", ["abc", "80", "70000", "-1", "5432.5"])
def test_a_bad_port_says_what_to_set(port: str) -> None:
    with pytest.raises(LabError, match="LABKIT_PORT") as error:
        settings.load({"LABKIT_PORT": port})
    assert "1024 to 65535" in str(error.value)


@pytest.mark.parametrize("keep", ["all", "-1", "2.5"])
def test_a_bad_backup_keep_says_what_to_set(keep: str) -> None:
    with pytest.raises(LabError, match="LABKIT_BACKUP_KEEP") as error:
        settings.load({"LABKIT_BACKUP_KEEP": keep})
    assert "0 keeps every backup" in str(error.value)
