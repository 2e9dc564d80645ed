"""labkit.tenancy: pooled, transaction-scoped store context, under load and in threads."""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool, PoolTimeout

import labkit
from labkit import bulk, contract, db, settings, tenancy
from labkit.errors import LabError
from labkit.server import STOPPED_MARKER

from . import rls_data
from .helpers import free_port, server_env

TAG = "tenancy"
CHECKOUTS = 1000
THREADS = 8


@pytest.fixture(scope="module")
def expected() -> Iterator[dict[str, int]]:
    """Customers per store, as the superuser counts them."""
    with labkit.connect(autocommit=True) as admin:
        rls_data.remove(admin, TAG)
        rls_data.write(admin, TAG)
        counts = dict(
            admin.execute("SELECT store_id, count(*) FROM retail.customers GROUP BY 1").fetchall()
        )
        yield counts
        rls_data.remove(admin, TAG)


def _seen(conn: psycopg.Connection) -> tuple[list[str], int]:
    stores = [store for (store,) in conn.execute("SELECT DISTINCT store_id FROM retail.customers")]
    (count,) = conn.execute("SELECT count(*) FROM retail.customers").fetchone()
    return stores, count


@pytest.mark.slow
def test_a_thousand_pooled_checkouts_each_see_their_own_store(expected: dict[str, int]) -> None:
    chooser = random.Random(20261126)
    pool = tenancy.pool()
    pool.pop_stats()  # count the connections opened from here on
    for checkout in range(CHECKOUTS):
        store = chooser.choice(list(contract.STORES))
        with tenancy.as_store(store) as conn:
            assert _seen(conn) == ([store], expected[store]), (checkout, store)
        if checkout % 50 == 0:  # what the next borrower inherits: no store at all
            with pool.connection() as conn:
                assert _seen(conn) == ([], 0)
    # Reused, not one per checkout: a pool that discarded its connections would open ~1,000.
    opened = pool.get_stats().get("connections_num", 0)
    assert opened <= pool.max_size, f"{opened} connections opened for {CHECKOUTS} checkouts"


def test_threads_on_different_stores_never_see_each_other(expected: dict[str, int]) -> None:
    stores = list(contract.STORES)
    start = threading.Barrier(THREADS)

    def work(index: int) -> int:
        store = stores[index % len(stores)]
        start.wait(timeout=60)
        for _ in range(50):
            with tenancy.as_store(store) as conn:
                conn.execute("SELECT pg_sleep(0.001)")  # hold the context while others run
                assert _seen(conn) == ([store], expected[store]), store
        return index

    # .result() raises in this thread whatever a worker raised (an assert, an error).
    with ThreadPoolExecutor(THREADS) as workers:
        done = [
            future.result(timeout=120)
            for future in [workers.submit(work, i) for i in range(THREADS)]
        ]
    assert done == list(range(THREADS))


def test_the_shared_pool_lends_four_connections_at_once_and_no_more(
    expected: dict[str, int],
) -> None:
    tenancy.close_pools()  # a pool made here, by new_pool, as every process's first one
    shared = tenancy.pool()
    assert shared.name == f"labkit-{contract.APP_ROLE}"  # what its errors are signed with
    with contextlib.ExitStack() as held:
        conns = {store: held.enter_context(tenancy.as_store(store)) for store in contract.STORES}
        assert (
            len({conn.info.backend_pid for conn in conns.values()})
            == len(contract.STORES)
            == tenancy.POOL_SIZE
        )
        for store, conn in conns.items():
            assert _seen(conn) == ([store], expected[store])
        with pytest.raises(PoolTimeout):
            shared.getconn(timeout=0.2)


def test_a_pooled_connection_the_server_dropped_is_replaced_on_checkout(
    expected: dict[str, int],
) -> None:
    tenancy.close_pools()  # a pool made here, by new_pool, as every process's first one
    with tenancy.as_store("seattle") as conn:
        dropped = conn.info.backend_pid
    with labkit.connect(autocommit=True) as admin:  # as a restart or an idle timeout would
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (dropped,)).fetchone()[0]
    for _ in range(tenancy.pool().max_size + 1):  # until the dead one has come round
        with tenancy.as_store("seattle") as conn:
            assert conn.info.backend_pid != dropped
            assert _seen(conn) == (["seattle"], expected["seattle"])


def test_a_statement_run_often_keeps_working_across_checkouts(expected: dict[str, int]) -> None:
    # psycopg prepares a statement run 5 times on a connection; the pool's DISCARD ALL
    # then deallocates it behind psycopg's back, unless the pool's connections never prepare.
    tenancy.close_pools()  # a pool made here, by new_pool, as every process's first one
    for _ in range(3 * tenancy.POOL_SIZE * 5):
        with tenancy.as_store("seattle") as conn:
            counted = conn.execute(
                "SELECT count(*) FROM retail.customers WHERE store_id = %s", ["seattle"]
            ).fetchone()
            assert counted == (expected["seattle"],)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform cannot fork")
def test_a_forked_process_gets_pools_of_its_own(expected: dict[str, int]) -> None:
    # A forked child (multiprocessing's default on Linux, mutmut's mutants) inherits
    # the parent's pools: their idle connections, whose sockets the parent still
    # uses, and no worker threads, so a checkout with none idle waits out the timeout.
    shared = tenancy.pool()
    held = [shared.getconn() for _ in range(max(1, shared.get_stats()["pool_available"]))]
    parents = {conn.info.backend_pid for conn in held}
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(reader)
            with tenancy.as_store("redmond") as conn:
                os.write(writer, json.dumps([conn.info.backend_pid, *_seen(conn)]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    try:
        ready, _, _ = select.select([reader], [], [], 60)  # a hang, not a speed, is the bug
        answer = os.read(reader, 4096).decode() if ready else ""
    finally:
        os.close(reader)
        os.waitpid(child, 0)
        for conn in held:
            shared.putconn(conn)
    assert answer, "the child's checkout failed: it waited for the parent's pool"
    pid, stores, count = json.loads(answer)
    assert pid not in parents, "the child borrowed a connection the parent holds"
    assert (stores, count) == (["redmond"], expected["redmond"])
    with tenancy.as_store("seattle") as conn:  # the parent's pool still works
        assert _seen(conn) == (["seattle"], expected["seattle"])


def test_a_session_wide_setting_is_ignored_and_reset_by_the_pool(
    expected: dict[str, int],
) -> None:
    """The lab text's trap: a session-wide setting on a pooled connection."""
    conninfo = psycopg.conninfo.make_conninfo(**db.connect_params(contract.APP_ROLE))
    setting = "SELECT current_setting('app.current_store_id', true)"
    # A pool that hands connections out as they were left: the setting survives,
    # but the lab's policies ignore a context that set_store_context did not make.
    with ConnectionPool(conninfo, min_size=1, max_size=1, open=True) as plain:
        with plain.connection() as first:
            first.execute("SELECT set_config('app.current_store_id', 'seattle', false)")
        with plain.connection() as second:
            assert second.execute(setting).fetchone() == ("seattle",)
            assert _seen(second) == ([], 0)
    # labkit's pool resets each connection it takes back: the setting is gone.
    with tenancy.new_pool(max_size=1) as pool_of_one:
        with pool_of_one.connection() as first:
            first.execute("SELECT set_config('app.current_store_id', 'seattle', false)")
        with pool_of_one.connection() as second:
            assert second.execute(setting).fetchone() in ((None,), ("",))


def test_the_pool_resets_cursors_prepared_statements_and_settings(
    expected: dict[str, int],
) -> None:
    with tenancy.new_pool(max_size=1) as pool:
        _leave_things_behind_and_check(pool)


def _leave_things_behind_and_check(pool: ConnectionPool) -> None:
    with pool.connection() as conn:
        pid = conn.pgconn.backend_pid
        with tenancy.store_transaction(conn, "online"):
            conn.execute("DECLARE loot CURSOR WITH HOLD FOR SELECT * FROM retail.customers")
        conn.execute("PREPARE stash AS SELECT 1")
        conn.execute("SET application_name = 'left over'")
        conn.commit()
    with pool.connection() as conn:  # a pool of one: the same connection
        assert conn.pgconn.backend_pid == pid
        left = conn.execute(
            "SELECT (SELECT count(*) FROM pg_catalog.pg_cursors),"
            " (SELECT count(*) FROM pg_catalog.pg_prepared_statements),"
            " current_setting('application_name')"
        ).fetchone()
        assert left == (0, 0, "")


def test_an_error_inside_as_store_rolls_back_and_leaves_no_context(
    expected: dict[str, int],
) -> None:
    email = "rollback@test.example"
    conninfo = psycopg.conninfo.make_conninfo(**db.connect_params(contract.APP_ROLE))
    # One connection, so the next borrower gets the very connection the error happened on.
    with ConnectionPool(conninfo, min_size=1, max_size=1, open=True) as pool:
        with pytest.raises(ZeroDivisionError), tenancy.as_store("online", pool_=pool) as conn:
            conn.execute(
                "INSERT INTO retail.customers (store_id, first_name, last_name, email) VALUES ('online', 'R', 'B', %s)",
                (email,),
            )
            raise ZeroDivisionError
        with pool.connection() as after:
            setting = after.execute("SELECT current_setting(%s, true)", (contract.STORE_SETTING,))
            assert setting.fetchone()[0] in ("", None)
            assert _seen(after) == ([], 0)
    with labkit.connect() as admin:
        assert admin.execute(
            "SELECT count(*) FROM retail.customers WHERE email = %s", (email,)
        ).fetchone() == (0,)


def test_an_unknown_store_is_a_lab_error_with_the_choices() -> None:
    with pytest.raises(labkit.LabError) as error, tenancy.as_store("atlantis"):
        pass
    assert "unknown store: 'atlantis'" in str(error.value)
    assert "bellevue, online, redmond, seattle" in error.value.fix


def test_side_by_side_shows_two_stores_in_one_frame(expected: dict[str, int]) -> None:
    frame = labkit.side_by_side(
        "SELECT store_id, count(*) AS customers FROM retail.customers GROUP BY store_id"
    )
    assert list(frame.columns.get_level_values(0).unique()) == ["seattle", "redmond"]
    assert frame[("seattle", "store_id")].tolist() == ["seattle"]
    assert frame[("redmond", "customers")].tolist() == [expected["redmond"]]


def test_side_by_side_binds_values_and_adds_no_columns() -> None:
    query = "SELECT current_user AS who, %s::int AS asked"
    frame = labkit.side_by_side(query, ("online", "bellevue"), (7,))
    assert list(frame.columns) == [(s, c) for s in ("online", "bellevue") for c in ("who", "asked")]
    assert frame.to_numpy().tolist() == [["mcp_user", 7, "mcp_user", 7]]


def test_a_store_login_queries_as_itself() -> None:
    query = (
        "SELECT current_user AS who, count(*) AS stores_seen FROM retail.stores WHERE store_id = %s"
    )
    alone = tenancy.query_as("seattle", query, ("seattle",), role="seattle_manager")
    assert alone.to_dict("records") == [{"who": "seattle_manager", "stores_seen": 1}]
    frame = labkit.side_by_side(query, ("seattle",), ("seattle",), role="seattle_manager")
    assert frame.to_numpy().tolist() == [["seattle_manager", 1]]


def test_visible_rows_fills_a_store_without_rows_and_keeps_the_order_asked(
    expected: dict[str, int],
) -> None:
    tables = ("product_embeddings", "customers")  # not in alphabetical order
    with labkit.connect() as admin, admin.transaction(force_rollback=True):
        admin.execute("DELETE FROM retail.product_embeddings WHERE store_id = 'redmond'")
        truth = dict(
            admin.execute(
                "SELECT store_id, count(*) FROM retail.product_embeddings GROUP BY 1"
            ).fetchall()
        )
        frame = labkit.visible_rows(admin, tables)
    assert list(frame.index) == list(tables)
    assert list(frame.columns) == list(contract.STORES)
    assert all(dtype.kind == "i" for dtype in frame.dtypes)
    assert frame.loc["product_embeddings"].to_dict() == {
        s: truth.get(s, 0) for s in contract.STORES
    }
    assert (
        frame.loc["product_embeddings", "redmond"] == 0 < frame.loc["product_embeddings", "online"]
    )
    assert frame.loc["customers"].to_dict() == {s: expected.get(s, 0) for s in contract.STORES}


def test_visible_rows_tells_who_sees_what(expected: dict[str, int]) -> None:
    with labkit.connect() as admin:
        everything = labkit.visible_rows(admin)
    assert everything.loc["customers"].to_dict() == {s: expected.get(s, 0) for s in contract.STORES}
    with tenancy.as_store("bellevue") as conn:
        one_store = labkit.visible_rows(conn)
    assert list(one_store.columns) == list(contract.STORES)
    assert one_store.drop(columns="bellevue").to_numpy().sum() == 0
    assert (one_store["bellevue"] > 0).all()


def test_bulk_load_lifts_force_and_audit_only_inside_its_transaction(
    expected: dict[str, int],
) -> None:
    state = (
        "SELECT c.relforcerowsecurity, t.tgenabled FROM pg_catalog.pg_class AS c"
        " JOIN pg_catalog.pg_trigger AS t ON t.tgrelid = c.oid AND t.tgname = 'audit_changes'"
        " WHERE c.oid = 'retail.customers'::regclass"
    )
    with labkit.connect(contract.OWNER_ROLE) as owner, owner.transaction(force_rollback=True):
        before = owner.execute(state).fetchone()
        audit_before = owner.execute("SELECT count(*) FROM retail.audit_log").fetchone()
        with bulk.bulk_load(owner):
            assert owner.execute(state).fetchone() == (False, "D")
            # Unforced, the owner sees and writes every store at once, unaudited.
            assert owner.execute("SELECT count(*) FROM retail.customers").fetchone() == (
                sum(expected.values()),
            )
            owner.execute(
                "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
                " VALUES ('seattle', 'B', 'L', 'bulk-1@test.example'), ('redmond', 'B', 'L', 'bulk-2@test.example')"
            )
        assert before == (True, "O")
        assert owner.execute(state).fetchone() == before
        assert owner.execute("SELECT count(*) FROM retail.audit_log").fetchone() == audit_before


class _Closable:
    closed = False

    def close(self) -> None:
        self.closed = True


def test_labkit_down_closes_that_servers_pools_only(
    scratch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``labkit down`` a checkout fails at once, and the stopped server's pools
    close (their workers would keep reconnecting); another server's pools stay open."""
    stopped = settings.load(server_env(scratch_dir / "stopped", free_port()))
    running = settings.load(server_env(scratch_dir / "running", free_port()))
    stopped.data_dir.mkdir(parents=True)
    (stopped.data_dir / STOPPED_MARKER).touch()  # what `labkit down` leaves
    mine, other = _Closable(), _Closable()
    pools = {(contract.APP_ROLE, stopped): mine, (contract.APP_ROLE, running): other}
    monkeypatch.setattr(tenancy, "_pools", pools)
    tenancy.refuse_if_stopped(running)  # the control: a server not stopped is left alone
    with pytest.raises(LabError, match="stopped: run `labkit up`"):
        tenancy.refuse_if_stopped(stopped)
    assert mine.closed and not other.closed
    assert list(pools) == [(contract.APP_ROLE, running)]
