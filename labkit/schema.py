"""Apply the numbered files in ``sql/`` in order, idempotently, and show them.

Every DDL statement of the lab lives once, in ``sql/NN_topic.sql``. Notebooks
render those files (or one section of them) instead of keeping a copy.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from . import contract
from .db import ADMIN, Target, ensure_database, ensure_server
from .errors import LabError
from .settings import sql_dir

_SECTION = re.compile(r"^-- section: (?P<name>.+?)\s*$", re.MULTILINE)
#: Any number: only processes running labkit.setup take this advisory lock.
_SETUP_LOCK_KEY = 0x7A617661  # "zava"


def sql_files() -> list[Path]:
    """The schema files, in the order they are applied."""
    files = sorted(sql_dir().glob("[0-9][0-9]_*.sql"))
    if not files:
        raise LabError(f"No SQL files found in {sql_dir()}", "Run labkit from a complete checkout")
    return files


def sql_file(name: str) -> Path:
    """One file by name, with or without ``.sql`` or its number: ``"schema"`` works."""
    for path in sql_files():
        if name in (path.name, path.stem, path.stem.split("_", 1)[1]):
            return path
    names = ", ".join(path.name for path in sql_files())
    raise LabError(f"There is no SQL file called {name!r}", f"Pick one of: {names}")


def sections(name: str) -> dict[str, str]:
    """The ``-- section: NAME`` parts of one file, each up to the next section."""
    text = sql_file(name).read_text(encoding="utf-8")
    marks = list(_SECTION.finditer(text))
    return {
        mark.group("name"): text[
            mark.start() : marks[i + 1].start() if i + 1 < len(marks) else len(text)
        ].strip()
        for i, mark in enumerate(marks)
    }


def section(name: str, part: str) -> str:
    found = sections(name)
    if part not in found:
        raise LabError(
            f"{sql_file(name).name} has no section {part!r}", f"Pick one of: {', '.join(found)}"
        )
    return found[part]


@dataclass
class SetupReport:
    database_created: bool = False
    files: list[str] = field(default_factory=list)
    passwords_set: list[str] = field(default_factory=list)
    seconds: float = 0.0


def apply_file(conn: psycopg.Connection[Any], path: Path) -> None:
    """Run one file in its own transaction: all of it, or none of it."""
    try:
        with conn.transaction():
            conn.execute(path.read_text(encoding="utf-8").encode())
    except psycopg.Error as error:
        raise LabError(
            f"{path.name} failed: {str(error).strip().splitlines()[0]}",
            "Nothing from that file was kept; fix the cause (see the message) and run labkit setup again",
        ) from error


def _can_log_in(lab: Target, role: str) -> bool:
    try:
        psycopg.connect(**lab.params(role), connect_timeout=10).close()
    except psycopg.OperationalError:
        return False
    return True


def set_password(conn: psycopg.Connection[Any], role: str, password: str) -> None:
    # Hash on the client: the plain password never reaches the server or its log.
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(verifier.decode())
        )
    )


def setup(files: list[Path] | None = None) -> SetupReport:
    """Bring the lab database to the state ``sql/`` describes; safe to run again."""
    started = time.perf_counter()
    lab = ensure_server()
    report = SetupReport(database_created=ensure_database(lab))
    with psycopg.connect(**lab.params(ADMIN), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
        try:
            for path in files or sql_files():
                apply_file(conn, path)
                report.files.append(path.name)
            for role in contract.LOGIN_ROLES:
                # A recorded password is kept if it still works (so a second setup
                # changes nothing); a new or stale one is (re)set.
                if lab.passwords.get(role) is None or not _can_log_in(lab, role):
                    set_password(conn, role, lab.passwords.get_or_create(role))
                    report.passwords_set.append(role)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
    report.seconds = time.perf_counter() - started
    return report


def reset() -> SetupReport:
    """Drop the lab database (disconnecting its sessions) and set it up again."""
    lab = ensure_server()
    with psycopg.connect(**lab.params(ADMIN, dbname="postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(lab.database))
        )
    return setup()
