"""Monitoring views, EXPLAIN and timing helpers, maintenance and settings."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import labkit
from labkit import contract, maintenance, perf

ROWS = 20_000
VIEWS = {
    "slow_queries": [
        "queryid",
        "role_name",
        "calls",
        "mean_ms",
        "total_ms",
        "stddev_ms",
        "rows",
        "cache_hit_pct",
        "query",
    ],
    "table_stats": [
        "table_name",
        "total_bytes",
        "total_size",
        "live_rows",
        "dead_rows",
        "dead_pct",
        "inserts",
        "updates",
        "deletes",
        "seq_scan",
        "seq_tup_read",
        "idx_scan",
        "last_vacuum",
        "last_autovacuum",
        "last_analyze",
        "last_autoanalyze",
    ],
    "index_usage": [
        "table_name",
        "index_name",
        "scans",
        "entries_read",
        "rows_fetched",
        "index_bytes",
        "index_size",
    ],
    "cache_hit_ratio": ["kind", "hits", "reads", "hit_pct"],
    "index_advice": ["advice", "table_name", "index_name", "size", "detail"],
}


@pytest.fixture(scope="module")
def workload() -> Iterator[None]:
    """Twenty thousand sales at one store, then a few slow and many scanning queries."""
    with labkit.connect(autocommit=True) as admin:
        admin.execute(
            "INSERT INTO retail.sales_transactions (store_id, transaction_date, notes)"
            " SELECT 'online', now() - make_interval(mins => g), 'monitoring-test'"
            " FROM generate_series(1, %s) AS g",
            (ROWS,),
        )
        admin.execute("ANALYZE retail.sales_transactions")
        with labkit.connect(contract.OWNER_ROLE) as owner:  # the owner's own slow statement
            owner.execute("SELECT pg_sleep(0.15)")
            owner.commit()
        scan_sequentially(admin)
    yield
    with labkit.connect(autocommit=True) as admin:  # a new connection: a test restarts the server
        admin.execute("DELETE FROM retail.sales_transactions WHERE notes = 'monitoring-test'")


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_has_its_documented_columns_and_rows(view: str, workload: None) -> None:
    with labkit.connect(contract.OWNER_ROLE) as owner:
        cursor = owner.execute(f"SELECT * FROM retail.{view}")
        assert [column.name for column in cursor.description] == VIEWS[view]
        rows = cursor.fetchall()
    assert rows, f"{view} returned no rows"


def scan_sequentially(admin: psycopg.Connection) -> None:
    """Sequential scans of a large table, the only scans its counters have seen.

    Other tests' index scans of this table must not outvote them, so its counters
    start again; the scans run as a role that reads its rows (the owner has no
    store, and its policy's InitPlan would send the planner to an index).

    The view's idx_scan is the sum of the table's indexes' own counters, which
    resetting the table's counters leaves alone: they are reset one by one."""
    admin.execute(
        "SELECT pg_stat_reset_single_table_counters(relation)"
        " FROM unnest(array_prepend('retail.sales_transactions'::regclass,"
        "   ARRAY(SELECT indexrelid::regclass FROM pg_index"
        "         WHERE indrelid = 'retail.sales_transactions'::regclass))) AS relation"
    )
    admin.execute("ANALYZE retail.sales_transactions")  # counts its live rows again
    for _ in range(3):
        admin.execute("SELECT count(*) FROM retail.sales_transactions WHERE notes = 'x'")
    admin.execute("SELECT pg_stat_force_next_flush()")


def test_the_views_find_what_the_workload_did(workload: None) -> None:
    with labkit.connect(autocommit=True) as admin:
        scan_sequentially(admin)
    with labkit.connect(contract.OWNER_ROLE) as owner:
        slow = owner.execute("SELECT query, mean_ms FROM retail.slow_queries").fetchall()
        stats = owner.execute(
            "SELECT live_rows, seq_scan, idx_scan FROM retail.table_stats"
            " WHERE table_name = 'sales_transactions'"
        ).fetchone()
        advice = owner.execute("SELECT advice, table_name FROM retail.index_advice").fetchall()
    assert any("pg_sleep" in query and mean >= 100 for query, mean in slow)
    assert stats is not None and stats[0] >= ROWS and stats[1] >= 3, stats
    assert ("sequential scans", "sales_transactions") in advice, (stats, advice)


def test_application_roles_cannot_read_the_views() -> None:
    for role in (contract.APP_ROLE, "seattle_manager"):
        with labkit.connect(role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM retail.slow_queries")


def test_explain_reads_the_plan_and_changes_nothing(workload: None) -> None:
    with labkit.connect() as admin:
        plan = perf.explain(
            admin,
            "SELECT * FROM retail.sales_transactions WHERE store_id = %s AND transaction_date > now() - interval '1 day'",
            ("online",),
        )
        assert plan.uses_index("sales_transactions_store_date_idx")
        assert plan.nodes.loc[0, "rows"] > 0 and plan.execution_ms > 0
        assert "sales_transactions_store_date_idx" in plan.text
        deleted = perf.explain(
            admin, "DELETE FROM retail.sales_transactions WHERE notes = %s", ("monitoring-test",)
        )
        assert deleted.nodes.loc[0, "node"] == "ModifyTable"
        left = admin.execute(
            "SELECT count(*) FROM retail.sales_transactions WHERE notes = 'monitoring-test'"
        )
        assert left.fetchone() == (ROWS,)


def test_maintenance_runs_outside_a_transaction_and_is_audited() -> None:
    report = maintenance.maintenance(tables=["stores", "products"], indexes=["products_search_idx"])
    assert [step.split(" ")[0] for step, _ in report.steps] == ["VACUUM", "VACUUM", "REINDEX"]
    with labkit.connect() as admin:
        row = admin.execute(
            "SELECT metadata -> 'indexes', user_name FROM retail.audit_log"
            " WHERE action = 'MAINTENANCE' ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        analyzed = admin.execute(
            "SELECT last_vacuum IS NOT NULL FROM retail.table_stats WHERE table_name = 'products'"
        ).fetchone()
    assert row == (["products_search_idx"], contract.OWNER_ROLE)
    assert analyzed == (True,)


def test_the_default_maintenance_reindexes_text_and_vector_indexes() -> None:
    report = maintenance.maintenance(tables=[])
    reindexed = [step for step, _ in report.steps if step.startswith("REINDEX")]
    assert any("products_search_idx" in step for step in reindexed)
    assert any("hnsw" in step for step in reindexed)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"checkpoint_segments": "10"}, "max_wal_size"),
        ({"no_such_setting": "1"}, "not a PostgreSQL setting"),
        ({"work_mem": "lots"}, "invalid value"),
        ({"work_mem": "8MB", "shared_buffers": "-5"}, "outside the valid range"),
    ],
)
def test_settings_refuse_nonsense_and_write_nothing(changes: dict[str, str], message: str) -> None:
    with labkit.connect() as admin:
        before = admin.execute("SELECT name, setting FROM pg_catalog.pg_file_settings").fetchall()
        with pytest.raises(labkit.LabError, match=message):
            maintenance.apply_settings(changes)
        assert (
            admin.execute("SELECT name, setting FROM pg_catalog.pg_file_settings").fetchall()
            == before
        )


def test_settings_review_and_apply() -> None:
    recommended = maintenance.recommended_settings(memory=8 * 1024**3, cores=4)
    assert (
        recommended["shared_buffers"] == "2048MB"
        and recommended["max_parallel_workers_per_gather"] == "2"
    )
    with labkit.connect() as admin:
        review = maintenance.settings_review(admin, recommended)
    assert list(review.columns) == ["current", "recommended", "applies"]
    assert review.loc["shared_buffers", "applies"] == "after restart"
    try:
        assert maintenance.apply_settings({"random_page_cost": "1.1"}) == []
        with labkit.connect() as admin:
            assert admin.execute("SHOW random_page_cost").fetchone() == ("1.1",)
        pending = maintenance.apply_settings({"max_wal_senders": "9"})
        assert pending == ["max_wal_senders"]
        maintenance.apply_settings({"max_wal_senders": "9"}, restart=True)
        with labkit.connect() as admin:
            assert admin.execute("SHOW max_wal_senders").fetchone() == ("9",)
    finally:  # the server's settings as they were, for every test after this one
        with labkit.connect(autocommit=True) as admin:
            admin.execute("ALTER SYSTEM RESET random_page_cost")
            admin.execute("ALTER SYSTEM RESET max_wal_senders")
        labkit.db.target().server.restart()
