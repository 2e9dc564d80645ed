"""Bad backups and bad requests: each a clear error, the live database untouched,
and no half-restored database left behind."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import labkit
from labkit import backup, db
from labkit.backup import restoring
from labkit.errors import LabError

from . import backup_data

TARGET = "zava_bk_bad"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> backup.Backup:
    backup_data.ensure_sales()
    return backup.backup(tmp_path_factory.mktemp("backups"))


@pytest.fixture(autouse=True)
def live_untouched() -> Iterator[None]:
    """Every test here leaves the live database as it found it, and no stray database."""
    tables, names = backup_data.live_tables(), backup_data.databases()
    yield
    assert backup_data.live_tables() == tables
    assert backup_data.databases() == names


def _copy(made: backup.Backup, folder: Path, *, manifest: bool = True) -> Path:
    path = folder / made.path.name
    shutil.copy(made.path, path)
    if manifest:
        shutil.copy(made.manifest_path, path.with_suffix(".json"))
    return path


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"There is no backup file .*labkit backups"):
        backup.restore(tmp_path / "zava-20250101T000000Z.dump", into=TARGET)


def test_a_gzipped_dump_the_lab_texts_way(made: backup.Backup, tmp_path: Path) -> None:
    gzipped = tmp_path / (made.path.name + ".gz")
    gzipped.write_bytes(gzip.compress(made.path.read_bytes()))
    with pytest.raises(LabError, match=r"gzip-compressed.*already compressed"):
        backup.restore(gzipped, into=TARGET)


@pytest.mark.parametrize("content", [b"", b"-- PostgreSQL database dump\n"], ids=["empty", "sql"])
def test_a_file_that_is_no_archive(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "zava.dump"
    path.write_bytes(content)
    with pytest.raises(LabError, match="not a pg_dump custom-format archive"):
        backup.restore(path, into=TARGET)


def test_a_truncated_backup_is_refused_before_anything_is_created(
    made: backup.Backup, tmp_path: Path
) -> None:
    path = _copy(made, tmp_path)
    with path.open("r+b") as file:
        file.truncate(made.size // 2)
    with pytest.raises(LabError, match=r"truncated: .* of .*Nothing was restored"):
        backup.restore(path, into=TARGET)


def test_a_damaged_backup_is_refused(made: backup.Backup, tmp_path: Path) -> None:
    path = _copy(made, tmp_path)
    with path.open("r+b") as file:
        file.seek(made.size // 2)
        file.write(b"\x00" * 64)
    with pytest.raises(LabError, match="damaged: its SHA-256 differs"):
        backup.restore(path, into=TARGET)


def test_a_restore_that_fails_halfway_leaves_nothing(made: backup.Backup, tmp_path: Path) -> None:
    """Without its manifest nothing can tell a truncated file in advance: pg_restore
    creates the tables, then fails on the missing data, and the database goes."""
    path = _copy(made, tmp_path, manifest=False)
    with path.open("r+b") as file:
        file.truncate(int(made.size * 0.8))
    with pytest.raises(LabError, match=r"stopped halfway.*was dropped"):
        backup.restore(path, into=TARGET)


def test_an_interrupted_restore_leaves_nothing(made: backup.Backup) -> None:
    with pytest.raises(LabError, match="did not finish within"):
        backup.restore(made, into=TARGET, timeout=0.01)


def test_a_restore_stopped_by_ctrl_c_leaves_nothing(
    made: backup.Backup, monkeypatch: pytest.MonkeyPatch
) -> None:
    wait = subprocess.Popen.wait
    interrupted: list[bool] = []

    def interrupt(process: subprocess.Popen, timeout: float | None = None) -> int:
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        return wait(process, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", interrupt)
    with pytest.raises(KeyboardInterrupt):
        backup.restore(made, into=TARGET)


def test_a_temporary_database_left_by_a_killed_restore_is_replaced(made: backup.Backup) -> None:
    leftover = TARGET + restoring.TEMPORARY_SUFFIX
    with labkit.connect(autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {leftover}")
    try:
        assert backup.restore(made, into=TARGET).database == TARGET
        assert leftover not in backup_data.databases()
    finally:
        backup.drop_database(TARGET)


def test_a_database_that_exists_is_never_overwritten(made: backup.Backup) -> None:
    with labkit.connect(autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TARGET}")
    try:
        with labkit.connect(dbname=TARGET, autocommit=True) as conn:
            conn.execute("CREATE TABLE keep_me (x int)")
        with pytest.raises(LabError, match=f"Database '{TARGET}' already exists"):
            backup.restore(made, into=TARGET)
        with labkit.connect(dbname=TARGET) as conn:
            assert conn.execute("SELECT to_regclass('keep_me') IS NOT NULL").fetchone() == (True,)
    finally:
        backup.drop_database(TARGET)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("zava", "is the live lab database"),
        ("postgres", "not a name a restore can use"),
        ("Zava-Copy", "not a name a restore can use"),
        ("x" * 51, "not a name a restore can use"),
        ("copy__restoring", "not a name a restore can use"),
    ],
)
def test_names_a_restore_cannot_use(made: backup.Backup, name: str, message: str) -> None:
    with pytest.raises(LabError, match=message):
        backup.restore(made, into=name)


def test_the_live_database_is_replaced_only_when_confirmed_and_verifiable(
    made: backup.Backup, tmp_path: Path
) -> None:
    with pytest.raises(LabError, match="needs confirmation"):
        backup.replace_live(made)
    without = _copy(made, tmp_path, manifest=False)
    with pytest.raises(LabError, match=r"no manifest.*does not replace"):
        backup.replace_live(without, confirm=True)
    with pytest.raises(LabError, match="has no manifest"):
        backup.verify(without, db.target().database)
    with pytest.raises(LabError, match="labkit does not drop 'zava'"):
        backup.drop_database("zava")


def _tiny_disk(where: Path) -> Path:
    """A 32 kB filesystem (tmpfs), mounted at ``where`` when we may mount (root)."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({mounted.stderr.decode().strip()})")
    return where


def test_a_full_disk_leaves_no_half_backup(made: backup.Backup, tmp_path: Path) -> None:
    disk = _tiny_disk(tmp_path / "tiny")
    try:
        assert made.size > 32_000
        with pytest.raises(LabError, match=r"is full .*free.*Free some space"):
            backup.backup(disk)
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LabError, match="Cannot create the backup folder"):
        backup.backup(blocker / "backups")


def test_a_backup_never_overwrites_a_file(made: backup.Backup) -> None:
    with pytest.raises(LabError, match="already exists, and a backup never overwrites"):
        backup.backup(made.path)


def test_a_pg_dump_older_than_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An external server (DATABASE_URL) with old client programs on this machine."""
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "pg_dump (PostgreSQL) 16.4"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("DATABASE_URL", db.url())
    monkeypatch.setenv("LABKIT_PG_BIN", str(fake.parent))
    with pytest.raises(LabError, match=r"pg_dump 16.4 is older than the server, PostgreSQL 18"):
        backup.backup(tmp_path / "backups")
    assert not list((tmp_path / "backups").iterdir())
