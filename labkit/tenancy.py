"""Store (tenant) context: one transaction, one store, one pooled connection.

    with labkit.as_store("seattle") as conn:
        conn.execute("SELECT count(*) FROM retail.customers")

``as_store`` borrows a connection from a pool of the application role
(``mcp_user``), opens a transaction, and calls ``retail.set_store_context``,
which sets ``app.current_store_id`` for that transaction only. When the block
ends, the transaction commits (or rolls back on an error) and the context ends
with it, so the next borrower of the connection starts with no store at all.
The pool also resets every connection it takes back (``DISCARD ALL``): cursors
held open past a commit, prepared statements, temporary tables and session
settings all end with the request that made them.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import psycopg
from psycopg_pool import ConnectionPool

from . import contract, db, settings
from .errors import LabError
from .server import stopped_error

#: Connections per pool: what four requests at once need, and few enough for a
#: laptop's server and a managed one's connection limit.
POOL_SIZE = 4
_pools: dict[tuple[str, settings.Settings], ConnectionPool] = {}
_pools_lock = threading.Lock()
#: The pools a forked process inherited, kept only so that nothing closes them.
_inherited: list[ConnectionPool] = []


def _forget_pools_in_child() -> None:
    """A forked process starts with no pools of its own: the inherited ones have no
    worker threads, and their connections' sockets are the parent's, in use there.
    They are kept, not closed: closing them would end the parent's sessions."""
    global _pools_lock
    _inherited.extend(_pools.values())
    _pools.clear()
    _pools_lock = threading.Lock()  # it may have been held by a thread that is gone


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def reset_session(conn: psycopg.Connection[Any]) -> None:
    """Return ``conn`` to the state of a new session, as the pool takes it back.

    ``DISCARD ALL`` closes every cursor (``WITH HOLD`` ones too), drops temporary
    tables, deallocates prepared statements and resets every session setting; it
    cannot run inside a transaction block.
    """
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute("DISCARD ALL")
    finally:
        conn.autocommit = autocommit


def new_pool(role: str = contract.APP_ROLE, *, max_size: int = POOL_SIZE) -> ConnectionPool:
    """A new connection pool for ``role``, configured as labkit's shared ones."""
    conninfo = psycopg.conninfo.make_conninfo(**db.connect_params(role))
    # check= tests each connection as it is handed out, so a pool outlives a
    # server restart (labkit down / up) instead of handing out dead ones;
    # reset= clears what one request left in the session before the next.
    return ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        name=f"labkit-{role}",
        check=ConnectionPool.check_connection,
        reset=reset_session,
        # DISCARD ALL deallocates server-side prepared statements, which
        # psycopg's own cache does not always notice: do not make any.
        kwargs={"prepare_threshold": None},
        open=True,
    )


def pool(role: str = contract.APP_ROLE) -> ConnectionPool:
    """The shared connection pool for ``role`` (one per role and database), of
    ``POOL_SIZE`` connections; ``new_pool`` makes one of another size.

    After ``labkit down`` it fails at once with the stopped message, instead of
    letting a checkout wait the pool's timeout for a connection that cannot come.
    """
    # Keyed by the settings, which are cheap to read; the server is started only
    # when a pool is created, and each call only looks for labkit down's marker.
    current = settings.load()
    refuse_if_stopped(current)
    key = (role, current)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = new_pool(role)
        return _pools[key]


@atexit.register
def close_pools() -> None:
    """Close every pool (at exit, or to drop connections before a reset)."""
    with _pools_lock:
        for shared in _pools.values():
            shared.close()
        _pools.clear()


@contextmanager
def store_transaction(
    conn: psycopg.Connection[Any], store_id: str
) -> Iterator[psycopg.Connection[Any]]:
    """A transaction on ``conn`` in which the store context is ``store_id``."""
    with conn.transaction():
        try:
            conn.execute("SELECT retail.set_store_context(%s)", (store_id,))
        except (
            psycopg.errors.InvalidParameterValue,
            psycopg.errors.ObjectNotInPrerequisiteState,
            psycopg.errors.InsufficientPrivilege,
        ) as error:
            hint = error.diag.message_hint or "Pick a store from retail.stores"
            raise LabError(
                f"Cannot act for store {store_id!r}: {error.diag.message_primary}", hint
            ) from error
        yield conn


def refuse_if_stopped(current: settings.Settings) -> None:
    """Raise the stopped error if ``labkit down`` stopped the embedded server.

    Its pools are closed too: their workers would keep reconnecting, further and
    further apart, and make the first request after ``labkit up`` wait for them.
    """
    lab = db.Target(current)
    if lab.embedded and lab.server.stopped_on_purpose():
        with _pools_lock:
            for key in [key for key in _pools if key[1] == current]:
                _pools.pop(key).close()
        raise stopped_error()


@contextmanager
def as_store(
    store_id: str, *, role: str = contract.APP_ROLE, pool_: ConnectionPool | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """Borrow a pooled connection as ``role`` and run one transaction as ``store_id``.

    Commits when the block ends normally, rolls back when it raises. After
    ``labkit down`` it fails at once with the stopped message (``pool``).
    """
    if pool_ is not None:
        refuse_if_stopped(settings.load())
    with (pool_ or pool(role)).connection() as conn, store_transaction(conn, store_id) as scoped:
        yield scoped


def query_as(
    store_id: str, query: str, params: Sequence[Any] | None = None, *, role: str = contract.APP_ROLE
) -> pd.DataFrame:
    """Run one query as ``store_id`` and return its rows as a DataFrame."""
    with as_store(store_id, role=role) as conn, conn.cursor() as cursor:
        cursor.execute(query, params)
        columns = [column.name for column in cursor.description or []]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def side_by_side(
    query: str,
    stores: Sequence[str] = ("seattle", "redmond"),
    params: Sequence[Any] | None = None,
    *,
    role: str = contract.APP_ROLE,
) -> pd.DataFrame:
    """The same query under several stores, one column group per store.

    For live demos: ``side_by_side("SELECT store_id, count(*) FROM retail.customers GROUP BY 1")``.
    """
    frames = [query_as(store, query, params, role=role).reset_index(drop=True) for store in stores]
    return pd.concat(frames, axis=1, keys=list(stores))


def visible_rows(
    conn: psycopg.Connection[Any], tables: Sequence[str] = contract.PER_STORE_TABLES
) -> pd.DataFrame:
    """How many rows of each store ``conn`` can see, per table: who sees what."""
    counts: list[tuple[str, str, int]] = []
    for table in tables:
        query = psycopg.sql.SQL("SELECT store_id, count(*) FROM {} GROUP BY 1").format(
            psycopg.sql.Identifier(contract.SCHEMA, table)
        )
        counts += [(table, store, n) for store, n in conn.execute(query)]
    frame = pd.DataFrame(counts, columns=["table", "store_id", "rows"])
    table = frame.pivot_table(
        index="table", columns="store_id", values="rows", fill_value=0, aggfunc="sum"
    )
    return table.reindex(index=list(tables), columns=list(contract.STORES), fill_value=0).astype(
        int
    )
