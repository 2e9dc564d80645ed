"""Routine maintenance and server settings, done where PostgreSQL allows them.

The lab text wraps VACUUM and REINDEX CONCURRENTLY in a function; PostgreSQL
refuses both inside a function or a transaction block (SPEC defect 4). So
``maintenance()`` sends them one by one on an autocommit connection, as the
owner, and records one audit row when done. Its settings list also names
``checkpoint_segments``, which PostgreSQL 9.5 replaced with ``max_wal_size``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import psycopg
from psycopg import sql

from . import contract, db
from .errors import LabError

#: Settings that no longer exist, and what replaced them.
REMOVED_SETTINGS = {
    "checkpoint_segments": "max_wal_size (PostgreSQL 9.5)",
    "wal_keep_segments": "wal_keep_size (PostgreSQL 13)",
    "vacuum_defer_cleanup_age": "hot_standby_feedback or a replication slot (PostgreSQL 16)",
}
_MB = 1024 * 1024


@dataclass
class MaintenanceReport:
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.steps)


def _text_and_vector_indexes(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT indexname FROM pg_catalog.pg_indexes WHERE schemaname = %s"
        " AND (indexdef LIKE '%%USING hnsw%%' OR indexdef LIKE '%%USING ivfflat%%'"
        "      OR indexdef LIKE '%%to_tsvector%%') ORDER BY indexname",
        (contract.SCHEMA,),
    )
    return [name for (name,) in rows]


def maintenance(
    tables: Sequence[str] | None = None, indexes: Sequence[str] | None = None
) -> MaintenanceReport:
    """VACUUM (ANALYZE) the tables, REINDEX CONCURRENTLY the indexes, audit it.

    By default: every table of the schema, and its full-text and vector indexes.
    """
    report = MaintenanceReport()
    with db.connect(contract.OWNER_ROLE, autocommit=True) as conn:
        if tables is None:
            tables = [
                t
                for (t,) in conn.execute(
                    "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = %s ORDER BY 1",
                    (contract.SCHEMA,),
                )
            ]
        if indexes is None:
            indexes = _text_and_vector_indexes(conn)
        steps = [
            sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(contract.SCHEMA, t))
            for t in tables
        ]
        steps += [
            sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(contract.SCHEMA, i))
            for i in indexes
        ]
        for statement in steps:
            started = time.perf_counter()
            conn.execute(statement)
            report.steps.append((statement.as_string(conn), time.perf_counter() - started))
        conn.execute(
            "INSERT INTO retail.audit_log (table_name, action, metadata) VALUES ('*', 'MAINTENANCE', %s)",
            (
                json.dumps(
                    {
                        "tables": list(tables),
                        "indexes": list(indexes),
                        "seconds": round(report.seconds, 3),
                    }
                ),
            ),
        )
    return report


def machine() -> tuple[int, int]:
    """(memory in bytes, CPU cores) of this machine."""
    import psutil

    return psutil.virtual_memory().total, os.cpu_count() or 1


def recommended_settings(memory: int | None = None, cores: int | None = None) -> dict[str, str]:
    """Starting values for a machine that runs this database and little else.

    Rules of thumb, not a tuning: a quarter of memory for shared buffers, the
    planner told that three quarters can be cache, SSD-friendly costs.
    """
    found_memory, found_cores = machine()
    memory, cores = memory or found_memory, cores or found_cores
    mb = memory // _MB
    return {
        "shared_buffers": f"{max(128, min(mb // 4, 8192))}MB",
        "effective_cache_size": f"{max(512, mb * 3 // 4)}MB",
        "maintenance_work_mem": f"{max(64, min(mb // 16, 2048))}MB",
        "work_mem": f"{max(4, min(mb // 400, 64))}MB",
        "max_parallel_workers_per_gather": str(max(1, cores // 2)),
        "max_parallel_maintenance_workers": str(max(1, cores // 2)),
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "checkpoint_completion_target": "0.9",
        "max_wal_size": "2GB",
    }


def settings_review(
    conn: psycopg.Connection, recommended: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Current value, recommended value and what a change needs, per setting."""
    recommended = dict(recommended or recommended_settings())
    rows = conn.execute(
        "SELECT name, current_setting(name), context FROM pg_catalog.pg_settings WHERE name = ANY(%s)",
        (list(recommended),),
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["setting", "current", "context"]).set_index("setting")
    frame["recommended"] = pd.Series(recommended)
    frame["applies"] = frame["context"].map(
        lambda c: "after restart" if c == "postmaster" else "on reload"
    )
    return frame.loc[list(recommended), ["current", "recommended", "applies"]]


def _alter_system(conn: psycopg.Connection, name: str, value: str | None) -> None:
    if value is None:
        conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
    else:
        conn.execute(
            sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
        )


def _reload(conn: psycopg.Connection, timeout: float = 10.0) -> None:
    """pg_reload_conf() and wait until it took effect.

    The reload is asynchronous: the server signals every session, and each
    rereads the files at its next statement. This waits for this session's own
    reload; another session may take a moment longer to receive its signal.
    """
    loaded = conn.execute("SELECT pg_conf_load_time()").fetchone()
    conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + timeout
    while conn.execute("SELECT pg_conf_load_time()").fetchone() == loaded:
        if time.monotonic() > deadline:
            raise LabError("The server did not reload its settings", "Look at the server log")
        time.sleep(0.01)


def _check_alter_system(conn: psycopg.Connection, names: list[str]) -> None:
    """Refuse before writing anything when this login may not ALTER SYSTEM these settings."""
    refused = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM unnest(%s::text[]) AS name"
            " WHERE NOT pg_catalog.has_parameter_privilege(current_user, name, 'ALTER SYSTEM')",
            (names,),
        )
    ]
    if refused:
        from . import provider

        raise LabError(
            f"Not allowed to change server settings here ({conn.info.user!r} may not"
            f" ALTER SYSTEM {', '.join(refused)})",
            f"On a managed server, change them in {provider.settings_hint(provider.detect(conn))}",
        )


def apply_settings(changes: Mapping[str, str], *, restart: bool = False) -> list[str]:
    """ALTER SYSTEM each setting, reload, and (for the embedded server) restart if asked.

    Returns the settings still waiting for a restart. An unknown or removed
    setting is refused before anything is written; an invalid value is refused
    by ALTER SYSTEM, and the settings already written are put back as they were.
    """
    with db.connect(autocommit=True) as conn:
        known = dict(conn.execute("SELECT name, context FROM pg_catalog.pg_settings").fetchall())
        for name in changes:
            if name in REMOVED_SETTINGS:
                raise LabError(f"{name} no longer exists", f"Use {REMOVED_SETTINGS[name]} instead")
            if name not in known:
                raise LabError(
                    f"{name!r} is not a PostgreSQL setting", "Check its name in pg_settings"
                )
        _check_alter_system(conn, list(changes))
        before = dict(
            conn.execute(
                "SELECT name, setting FROM pg_catalog.pg_file_settings WHERE sourcefile LIKE %s",
                ("%postgresql.auto.conf",),
            ).fetchall()
        )
        written: list[str] = []
        try:
            for name, value in changes.items():
                _alter_system(conn, name, str(value))
                written.append(name)
        except (
            psycopg.errors.InvalidParameterValue,
            psycopg.errors.InsufficientPrivilege,
        ) as error:
            for name in written:
                _alter_system(conn, name, before.get(name))
            if isinstance(error, psycopg.errors.InsufficientPrivilege):
                raise LabError(
                    "Not allowed to change server settings here",
                    "On a managed server, use the provider's server parameters",
                ) from error
            raise LabError(
                f"Invalid setting: {error.diag.message_primary}",
                error.diag.message_hint or "Check the value's unit and range; nothing was changed",
            ) from error
        _reload(conn)
    pending = [name for name in changes if known[name] == "postmaster"]
    lab = db.target()
    if pending and restart and lab.embedded:
        lab.server.restart()
        pending = []
    return pending
