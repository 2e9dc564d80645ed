"""Backups that prove nothing was lost: dump, restore, verify, copy back, replace, PITR."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import labkit
from labkit import backup, binaries, cli, contract, db, schema, tenancy
from labkit.backup import archive, fingerprint, restoring
from labkit.errors import LabError

from . import backup_data
from .helpers import free_port, run_labkit, server_env


@pytest.fixture(scope="module")
def vectors() -> Iterator[int]:
    backup_data.ensure_sales()
    with backup_data.search_vectors() as count:
        yield count


@pytest.fixture(scope="module")
def made(vectors: int, tmp_path_factory: pytest.TempPathFactory) -> backup.Backup:
    return backup.backup(tmp_path_factory.mktemp("backups"))


@pytest.fixture
def dropped() -> Iterator[list[str]]:
    """Databases a test creates, dropped when it ends."""
    names: list[str] = []
    yield names
    for name in names:
        backup.drop_database(name)


def test_a_backup_is_a_custom_format_dump_with_its_roles_and_a_manifest(
    made: backup.Backup,
) -> None:
    assert re.fullmatch(r"zava-\d{8}T\d{6}Z\.dump", made.path.name)
    assert made.path.read_bytes()[:5] == b"PGDMP"
    listing = subprocess.run(
        [str(binaries.program("pg_restore", db.target().settings)), "--list", str(made.path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TABLE DATA retail sales_transactions" in listing
    assert "Compression: gzip" in listing  # compressed already
    manifest = made.manifest
    assert manifest is not None
    assert {contract.OWNER_ROLE, "retail_app"} <= set(manifest["roles"])
    assert manifest["roles_sql"] == schema.sql_file("roles").read_text(encoding="utf-8")
    assert (manifest["size"], manifest["sha256"]) == (made.size, archive.sha256(made.path))
    assert manifest["fingerprint"]["tables"]["retail.sales_transactions"][0] > 0
    assert manifest["pg_dump_version"].split(".")[0] == manifest["server_version"].split(".")[0]


def test_a_restore_into_a_new_database_is_verified_equal(
    vectors: int, tmp_path: Path, dropped: list[str]
) -> None:
    # A backup of its own: the live database is compared with the restore at the end,
    # and other tests of this module change it after the module's backup (copy-back
    # audits the rows it puts back).
    made = backup.backup(tmp_path)
    restored = backup.restore(made, into="zava_bk_round_trip")
    dropped.append(restored.database)
    report = backup.verify(made, restored.database)
    assert report.ok, str(report)
    checks = {check.name: check for check in report.checks}
    for name in ("tables", "row security", "policies", "indexes", "functions", "triggers"):
        assert checks[name].ok is True, name
    assert re.search(r"hnsw: [1-9]", checks["indexes"].detail)
    assert checks["store isolation"].ok is True
    assert checks["vector search"].ok is (True if backup_data.search_function_exists() else None)
    assert backup.compare(db.target().database, restored.database).ok


def test_the_context_key_stays_in_its_database_and_a_restore_gets_its_own(
    made: backup.Backup, dropped: list[str]
) -> None:
    """The key that signs store contexts is not in the dump nor in the manifest; the
    restored database has a key of its own, and PUBLIC may not create temporary tables
    there (a new database grants it; a dump does not carry database grants)."""
    listing = subprocess.run(
        [
            str(binaries.program("pg_restore", db.target().settings)),
            "--data-only",
            f"--table={contract.CONTEXT_KEY_TABLE.split('.')[1]}",
            "--file=-",
            str(made.path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "COPY retail_audit.context_key" not in listing, listing
    assert made.manifest is not None
    assert contract.CONTEXT_KEY_TABLE not in made.manifest["fingerprint"]["tables"]
    restored = backup.restore(made, into="zava_bk_key").database
    dropped.append(restored)
    keys = []
    for database in (db.target().database, restored):
        with labkit.connect(dbname=database) as conn:
            keys.append(conn.execute("SELECT secret FROM retail_audit.context_key").fetchall())
            temp = conn.execute(
                "SELECT has_database_privilege('public', current_database(), 'TEMPORARY')"
            ).fetchone()
            assert temp == (False,), database
    assert len(keys[1]) == 1 and keys[0] != keys[1]
    with (
        labkit.connect(contract.APP_ROLE, dbname=restored) as conn,
        tenancy.store_transaction(conn, "seattle"),
    ):  # the new key signs and verifies
        assert conn.execute("SELECT retail.current_store_id()").fetchone() == ("seattle",)


def test_the_verification_notices_what_a_restore_lost(
    made: backup.Backup, dropped: list[str]
) -> None:
    damaged = backup.restore(made, into="zava_bk_damaged").database
    dropped.append(damaged)
    with labkit.connect(dbname=damaged, autocommit=True) as conn:
        conn.execute("DELETE FROM retail.sales_transaction_items WHERE quantity = 1")
        conn.execute("DROP POLICY store_isolation ON retail.products")
        conn.execute("ALTER TABLE retail.customers NO FORCE ROW LEVEL SECURITY")
        conn.execute("ALTER TABLE retail.sales_transactions DISABLE ROW LEVEL SECURITY")
        conn.execute("DROP INDEX retail.product_embeddings_te3small_hnsw_seattle")
        conn.execute("ALTER TABLE retail.customers DISABLE TRIGGER audit_changes")
        conn.execute("DROP FUNCTION retail.touch_updated_at() CASCADE")
    report = backup.verify(made, damaged)
    failed = {check.name for check in report.checks if check.ok is False}
    expected = {"tables", "policies", "row security", "indexes", "triggers", "functions"}
    assert expected | {"store isolation"} <= failed, str(report)
    assert any("sales_transactions" in line for line in report.differences)


def test_lost_rows_are_copied_back_from_a_restored_copy(
    vectors: int, tmp_path: Path, dropped: list[str]
) -> None:
    before = backup.backup(tmp_path)
    with labkit.as_store("redmond") as conn:
        items = conn.execute("SELECT count(*) FROM retail.sales_transaction_items").fetchone()[0]
        sales = conn.execute("DELETE FROM retail.sales_transactions").rowcount
    assert sales > 0 and items > 0
    copy = backup.restore(before, into="zava_bk_recover").database
    dropped.append(copy)
    lost = backup.compare(copy, db.target().database)
    assert set(lost.tables.index[~lost.tables["same content"]]) == {
        "retail.sales_transactions",
        "retail.sales_transaction_items",
        "retail_audit.audit_log",  # the DELETEs were audited
    }
    by_store = "transaction_id IN (SELECT transaction_id FROM retail.sales_transactions WHERE store_id = %s)"
    copied = backup.copy_back(
        copy,
        [
            ("sales_transactions", "store_id = %s", ["redmond"]),
            ("sales_transaction_items", by_store, ["redmond"]),
        ],
    )
    assert copied == {"sales_transactions": sales, "sales_transaction_items": items}
    after = backup.compare(copy, db.target().database)
    assert set(after.tables.index[~after.tables["same content"]]) == {"retail_audit.audit_log"}
    again = backup.copy_back(copy, [("sales_transactions", "store_id = %s", ["redmond"])])
    assert again == {"sales_transactions": 0}, "only missing rows are copied"
    with labkit.connect() as conn:
        recovered = conn.execute(
            "SELECT count(*) FROM retail.audit_log WHERE action = 'RECOVER'"
            " AND metadata ->> 'from_database' = %s",
            (copy,),
        ).fetchone()[0]
    assert recovered == 3


def test_replacing_the_live_database_needs_confirmation_and_keeps_the_old_one(
    vectors: int, tmp_path: Path, dropped: list[str]
) -> None:
    snapshot = backup.backup(tmp_path)
    email = "late.change@backup.zava.example"
    with labkit.as_store("seattle") as conn:
        conn.execute(
            "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
            " VALUES ('seattle', 'Late', 'Change', %s)",
            (email,),
        )
    with pytest.raises(LabError, match="needs confirmation"):
        backup.replace_live(snapshot)
    done = backup.replace_live(snapshot, confirm=True)
    dropped.append(done.previous)
    assert done.report.ok and done.database == db.target().database
    seen = "SELECT count(*) FROM retail.customers WHERE email = %s"
    with labkit.as_store("seattle") as conn:  # the pools reconnect to the new database
        assert conn.execute(seen, (email,)).fetchone() == (0,)
    with labkit.connect(dbname=done.previous) as conn:
        assert conn.execute(seen, (email,)).fetchone() == (1,)
    assert f"{done.database}{restoring.TEMPORARY_SUFFIX}" not in backup_data.databases()


def test_retention_keeps_the_newest_backups(vectors: int, tmp_path: Path) -> None:
    first = backup.backup(tmp_path, keep=2)
    second = backup.backup(tmp_path, keep=2)
    third = backup.backup(tmp_path, keep=2)
    kept = backup.list_backups(tmp_path)
    assert [b.path for b in kept] == [third.path, second.path]
    assert not first.path.exists() and not first.manifest_path.exists()
    assert backup.backup(tmp_path, keep=0).path.exists() and len(backup.list_backups(tmp_path)) == 3


def test_backups_are_listed_newest_first_with_size_and_time(tmp_path: Path) -> None:
    for minute, size in ((1, 2_000), (3, 3_000_000), (2, 40)):
        path = tmp_path / f"zava-2025010{minute}T120000Z.dump"
        path.write_bytes(b"PGDMP" + b"x" * size)
        manifest = {"database": "zava", "created_at": f"2025-01-0{minute}T12:00:00+00:00"}
        path.with_suffix(".json").write_text(json.dumps(manifest))
    (tmp_path / "notes.dump").write_bytes(b"PGDMP")  # not ours: never listed, never pruned
    result = run_labkit("backups", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [line[0] for line in lines] == [
        "zava-20250103T120000Z.dump",
        "zava-20250102T120000Z.dump",
        "zava-20250101T120000Z.dump",
    ]
    assert [" ".join(line[1:3]) for line in lines] == ["3.0 MB", "45 B", "2.0 kB"]
    assert lines[0][3:] == ["2025-01-03", "12:00:00", "UTC"]
    assert backup.prune(tmp_path, "zava", 1) == [
        tmp_path / "zava-20250102T120000Z.dump",
        tmp_path / "zava-20250101T120000Z.dump",
    ]
    assert (tmp_path / "notes.dump").exists()


@pytest.mark.slow
def test_the_commands_back_up_verify_and_restore(
    vectors: int, tmp_path: Path, dropped: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    made = run_labkit("backup", str(tmp_path))
    assert made.returncode == 0, made.stderr
    path = next(tmp_path.glob("*.dump"))
    assert str(path) in made.stdout and "fingerprint" in made.stdout
    checked = run_labkit("verify", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "nothing lost" in checked.stdout and "hnsw: " in checked.stdout
    assert not {name for name in backup_data.databases() if "_verify_" in name}
    restored = run_labkit("restore", str(path), "--into", "zava_bk_cli")
    dropped.append("zava_bk_cli")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "Restored" in restored.stdout and "nothing lost" in restored.stdout
    # The refusals, in this process (stdin is no terminal under pytest).
    assert cli.main(["restore", str(path), "--into", "zava_bk_cli"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["restore", str(path), "--replace-live"]) == 1
    assert "Add --yes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["restore", str(path)])
    assert "one of the arguments --into --replace-live is required" in capsys.readouterr().err


def test_a_restore_into_a_fresh_server_creates_the_roles_first(
    made: backup.Backup, scratch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in server_env(scratch_dir / "fresh", free_port()).items():
        monkeypatch.setenv(name, value)
    fresh = db.ensure_server()
    try:
        params = fresh.params(dbname="postgres")
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute("CREATE DATABASE plain_restore")
        # What the lab text does: pg_restore alone, on a server without the roles.
        without_password = {**params, "dbname": "plain_restore", "password": None}
        plain = subprocess.run(
            [
                str(binaries.program("pg_restore", fresh.settings)),
                "--exit-on-error",
                f"--dbname={psycopg.conninfo.make_conninfo(**without_password)}",
                str(made.path),
            ],
            env={"PGPASSWORD": params["password"], "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert plain.returncode != 0
        assert re.search(r'role "(retail_owner|retail_app|mcp_user)" does not exist', plain.stderr)
        restored = backup.restore(made, into="zava_from_backup")
        report = backup.verify(made, restored.database)
        assert report.ok, str(report)
        assert report.check("store isolation").ok is True  # mcp_user logs in on the new server
    finally:
        fresh.server.stop()


def test_point_in_time_recovery_replays_the_wal_to_a_restore_point(vectors: int) -> None:
    email = "pitr.customer@backup.zava.example"
    pit = backup.Drill.start()
    try:
        with labkit.as_store("bellevue") as conn:  # after the base backup
            conn.execute(
                "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
                " VALUES ('bellevue', 'Wal', 'Replay', %s)",
                (email,),
            )
        lsn = pit.restore_point("before_test_accident")
        assert pit.restore_point("before_test_accident") == lsn  # again: the first moment
        with labkit.as_store("bellevue") as conn:
            conn.execute("DELETE FROM retail.customers WHERE email = %s", (email,))
        segments = pit.finish()
        assert len(segments) >= 1 and pit.finish() == segments  # again: nothing to do
        found = []
        for _ in range(2):  # again: the copy, recovered already, starts once more
            with pit.recovered("before_test_accident") as copy:
                found += copy.execute(
                    "SELECT first_name FROM retail.customers WHERE email = %s", (email,)
                ).fetchall()
                in_recovery = copy.execute("SELECT pg_is_in_recovery()").fetchone()
    finally:
        pit.close()
        pit.close()  # again: harmless
    assert found == [("Wal",), ("Wal",)] and in_recovery == (False,)
    assert not pit.root.exists()
    with labkit.connect() as conn:
        slots = conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()
    assert slots == (0,), "the drill's replication slot is gone"


def test_a_check_that_could_not_run_is_not_checked_and_nothing_lost_is_not_claimed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mcp_user cannot log in on either side: isolation and search are not checked."""
    lab = db.ensure_server()
    params = db.Target.params

    def no_app_login(self: db.Target, role: str = db.ADMIN, dbname: str | None = None) -> dict:
        if role == contract.APP_ROLE:
            raise LabError(f"no password for {role}", "Run labkit setup")
        return params(self, role, dbname)

    monkeypatch.setattr(db.Target, "params", no_app_login)
    taken = fingerprint.take(lab, lab.database)
    assert taken.isolation is None and taken.search is None
    report = backup.compare(taken, taken, "before", "after")
    assert report.check("tables").ok is True and not report.differences
    assert report.check("store isolation").ok is None
    assert "cannot log in" in report.check("store isolation").detail
    assert report.not_checked == ["store isolation", "vector search"]
    assert not report.ok
    assert "nothing lost" not in str(report) and "NOT VERIFIED" in str(report)
    assert report.frame().loc["store isolation", "result"] == "not checked"
