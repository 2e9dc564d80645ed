"""labkit.perf's explain() and time_query() against the real server: an explained write
changes nothing, values stay bound, and the timing loop runs as often as asked."""

from __future__ import annotations

import psycopg
import pytest

from labkit.perf import explain, time_query

RENAME = "UPDATE retail.stores SET store_name = store_name || '!' WHERE store_id = %s"


def _name(conn: psycopg.Connection, store: str) -> str:
    row = conn.execute(
        "SELECT store_name FROM retail.stores WHERE store_id = %s", [store]
    ).fetchone()
    assert row is not None
    return row[0]


def test_an_explained_update_runs_with_its_bound_value_and_is_rolled_back(
    admin: psycopg.Connection,
) -> None:
    before = _name(admin, "seattle")
    plan = explain(admin, RENAME, ["seattle"])
    assert plan.root["Node Type"] == "ModifyTable"
    scanned = [node for _, node in plan.walk() if node.get("Relation Name") == "stores"]
    # ANALYZE ran the statement: the bound store matched exactly one row.
    assert [node["Actual Rows"] for node in scanned][-1] == 1
    assert plan.execution_ms > 0
    assert _name(admin, "seattle") == before


def test_time_query_returns_one_timing_per_counted_run(admin: psycopg.Connection) -> None:
    admin.execute("SELECT pg_stat_statements_reset()")
    query = "SELECT count(*) FROM retail.stores WHERE store_id = %s"
    timings = time_query(admin, query, ["redmond"], runs=3, warmup=2)
    assert len(timings.ms) == 3 and all(ms > 0 for ms in timings.ms)
    calls = admin.execute(
        "SELECT sum(calls) FROM pg_stat_statements WHERE query LIKE %s",
        ["SELECT count(*) FROM retail.stores WHERE store_id = $1%"],
    ).fetchone()
    assert calls is not None and calls[0] == 5  # warmup runs happen, uncounted


@pytest.mark.parametrize(("runs", "warmup"), [(0, 2), (3, -1)])
def test_time_query_refuses_no_runs_or_negative_warmup(
    admin: psycopg.Connection, runs: int, warmup: int
) -> None:
    with pytest.raises(ValueError, match="runs must be at least 1"):
        time_query(admin, "SELECT 1", runs=runs, warmup=warmup)
