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

from . import contract, db, provider
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


def lesson_file(name: str) -> Path:
    """A file of ``sql/lessons/``: DDL a notebook applies to show a trap, not part of setup."""
    path = sql_dir() / "lessons" / f"{name.removesuffix('.sql')}.sql"
    if not path.is_file():
        found = ", ".join(p.stem for p in sorted((sql_dir() / "lessons").glob("*.sql")))
        raise LabError(f"There is no lesson file called {name!r}", f"Pick one of: {found}")
    return path


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
    #: What the SQL files told the administrator (RAISE NOTICE, warnings): on a
    #: managed server, what it could not do and what that changes.
    notices: list[str] = field(default_factory=list)
    #: Extensions left in place by a reset of an external server's lab.
    kept_extensions: list[str] = field(default_factory=list)
    seconds: float = 0.0


def apply_file(conn: psycopg.Connection[Any], path: Path) -> None:
    """Run one file in its own transaction: all of it, or none of it."""
    try:
        with conn.transaction():
            conn.execute(path.read_text(encoding="utf-8").encode())
    except psycopg.Error as error:
        explained = provider.setup_error(conn, path.name, error)
        if explained is not None:
            raise LabError(*explained) from error
        raise LabError(
            f"{path.name} failed: {str(error).strip().splitlines()[0]}",
            "Nothing from that file was kept; fix the cause (see the message) and run labkit setup again",
        ) from error


_CREATE_EXTENSION = re.compile(r"^CREATE EXTENSION IF NOT EXISTS (\w+)", re.MULTILINE)


def check_extensions(conn: psycopg.Connection[Any]) -> None:
    """Before anything changes: may this login create the extensions that are missing?

    A superuser always may. Any other login (a managed server's administrator)
    may only if the provider allows it; trying each missing one in a rolled-back
    transaction is the one reliable test, since providers allow-list extensions
    in ways the catalog does not show.
    """
    path = sql_file("extensions")
    wanted = _CREATE_EXTENSION.findall(path.read_text(encoding="utf-8"))
    installed = {name for (name,) in conn.execute("SELECT extname FROM pg_catalog.pg_extension")}
    for name in (name for name in wanted if name not in installed):
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege as error:
            raise LabError(*provider.extensions_error(conn, path.name, wanted, error)) from error
        except psycopg.Error as error:
            raise LabError(
                f"The extension {name} is not available on this server ({error})",
                "Use a server that ships it (pgvector 0.8 or newer for vector): the embedded "
                "server, the docker-compose image, or a managed server that supports it",
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
        conn.add_notice_handler(lambda notice: _keep_notice(notice, report.notices))
        conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
        try:
            check_extensions(conn)
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


def _keep_notice(notice: psycopg.errors.Diagnostic, notices: list[str]) -> None:
    # The files' own RAISE NOTICEs (SQLSTATE 00000) and warnings; not PostgreSQL's
    # "already exists, skipping", which every second run prints by design.
    message = notice.message_primary or ""
    if notice.severity_nonlocalized == "WARNING" or (
        notice.sqlstate == "00000" and not message.endswith("skipping")
    ):
        notices.append(message)


#: Roles of the lab whose objects and grants a reset drops (not the roles themselves:
#: they belong to the whole server, and their recorded passwords stay valid).
_LAB_ROLES = (
    contract.OWNER_ROLE,
    "retail_audit",
    "retail_app",
    contract.APP_ROLE,
    *contract.STORE_LOGINS,
)


def reset() -> SetupReport:
    """Bring the lab back to a fresh setup, with no data.

    The embedded server's lab database is dropped and created again. On an
    external server (``DATABASE_URL``) the database, and what the provider put in
    it (its extensions), are not the lab's to drop: the lab's schema goes, with
    every object and grant of the lab's roles in this database, and setup runs.
    """
    lab = ensure_server()
    if lab.embedded:
        with db.maintenance(lab) as conn:
            db.drop_database_if_exists(conn, lab.database)
        return setup()
    with psycopg.connect(**lab.params(ADMIN), autocommit=True) as conn, conn.transaction():
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(contract.SCHEMA))
        )
        roles = [
            role
            for (role,) in conn.execute(
                "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)"
                " AND pg_catalog.pg_has_role(current_user, oid, 'SET') ORDER BY rolname",
                (list(_LAB_ROLES),),
            )
        ]
        for role in roles:
            # As the role itself: the admin may SET ROLE to every lab role but does not
            # inherit them all (retail_audit, by design).
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
        conn.execute("RESET ROLE")
        kept = [name for (name,) in conn.execute(_EXTENSIONS)]
    report = setup()
    report.kept_extensions = kept
    return report


_EXTENSIONS = "SELECT extname FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql' ORDER BY 1"
