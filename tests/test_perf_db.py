"""labkit.perf's explain() and time_query() against the real server: an explained write
changes nothing, values stay bound, and the timing loop runs as often as asked."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg import sql

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
    with pytest.raises(ValueError, match=r"^runs must be at least 1 and warmup at least 0$"):
        time_query(admin, "SELECT 1", runs=runs, warmup=warmup)


PREPARED = "SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE statement LIKE %s"


def test_time_query_never_prepares_so_each_run_is_planned_afresh(
    admin: psycopg.Connection,
) -> None:
    # psycopg prepares a statement it has run 5 times and reuses that plan, which a
    # later SET enable_indexscan = off would not change.
    query = "SELECT count(*) FROM retail.stores WHERE store_id <> %s"
    time_query(admin, query, ["redmond"], runs=8)
    assert admin.execute(PREPARED, ["%store_id <> $1%"]).fetchone() == (0,)
    for _ in range(8):  # the control: run plainly, the same statement is prepared
        admin.execute(query, ["redmond"]).fetchall()
    assert admin.execute(PREPARED, ["%store_id <> $1%"]).fetchone() == (1,)


def _calls(admin: psycopg.Connection, query: str) -> int:
    row = admin.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query = %s", [query]
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("options", "counted", "executed"),
    [({}, 20, 22), ({"runs": 1, "warmup": 0}, 1, 1)],
    ids=["defaults: 20 counted after 2 warm-up runs", "the smallest run allowed"],
)
def test_time_query_runs_as_often_as_asked(
    admin: psycopg.Connection, options: dict[str, int], counted: int, executed: int
) -> None:
    query = (
        "SELECT count(*) FROM retail.stores WHERE store_id IS NOT NULL"  # no constant to normalise
    )
    admin.execute("SELECT pg_stat_statements_reset()")
    assert len(time_query(admin, query, **options).ms) == counted
    assert _calls(admin, query) == executed


def test_time_query_reports_milliseconds_of_each_run(admin: psycopg.Connection) -> None:
    # A unit check, not a speed claim: each run sleeps 20 ms on the server, and the
    # runs together cannot take longer than the whole call.
    started = time.perf_counter()
    timings = time_query(admin, "SELECT pg_sleep(0.02)", runs=3, warmup=1)
    whole_call_ms = (time.perf_counter() - started) * 1000
    assert all(ms >= 20 for ms in timings.ms), timings.ms
    assert sum(timings.ms) < whole_call_ms


def test_explain_takes_a_composed_statement(admin: psycopg.Connection) -> None:
    statement = sql.SQL("SELECT count(*) FROM {} WHERE store_id = %s").format(
        sql.Identifier("retail", "stores")
    )
    plan = explain(admin, statement, ["online"])
    assert plan.root["Node Type"] == "Aggregate"
    assert any(node.get("Relation Name") == "stores" for _, node in plan.walk())
