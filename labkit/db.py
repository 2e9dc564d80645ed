"""Connections to the lab database, as any of the lab's roles.

One code path serves the embedded server and any ``DATABASE_URL`` (docker-compose,
a managed server in the cloud): only where the admin login and the passwords come
from differs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import settings as settings_module
from .credentials import PasswordStore
from .errors import LabError
from .libpq import params_to_url
from .server import LISTEN_ADDRESS, SUPERUSER, EmbeddedServer
from .settings import LAB_DATABASE, Settings

if TYPE_CHECKING:  # psycopg is imported where a connection is made, so that `labkit status`
    import psycopg  # on the embedded server (which asks psql) starts without it

#: The role name that means "the administrator": the embedded server's superuser,
#: or the user in DATABASE_URL.
ADMIN = "admin"
_URL_HINT = "Use the form postgresql://USER:PASSWORD@HOST:5432/DBNAME (add ?sslmode=require for a cloud server)"


@dataclass(frozen=True)
class Target:
    """Where the lab database lives and how to log in to it."""

    settings: Settings

    @property
    def embedded(self) -> bool:
        return self.settings.embedded

    @property
    def server(self) -> EmbeddedServer:
        return EmbeddedServer(self.settings)

    def _external_params(self) -> dict[str, str]:
        import psycopg
        from psycopg import conninfo as libpq

        url = self.settings.database_url or ""
        try:
            params = libpq.conninfo_to_dict(url)
        except psycopg.ProgrammingError as error:
            raise LabError(
                f"DATABASE_URL is not a valid PostgreSQL URL ({error})", _URL_HINT
            ) from error
        if not params.get("dbname"):
            raise LabError("DATABASE_URL names no database", _URL_HINT)
        if params["dbname"] == "postgres":
            raise LabError(
                "DATABASE_URL points at the maintenance database 'postgres'",
                "Give the lab a database of its own, e.g. .../zava, created with createdb",
            )
        return {key: str(value) for key, value in params.items()}

    @property
    def database(self) -> str:
        return self._external_params()["dbname"] if not self.embedded else LAB_DATABASE

    @property
    def passwords(self) -> PasswordStore:
        if self.embedded:
            return self.server.passwords
        params = self._external_params()
        where = f"{params.get('host', '')}:{params.get('port', '')}/{params['dbname']}"
        digest = hashlib.sha256(where.encode()).hexdigest()[:16]
        return PasswordStore(self.settings.data_dir / "external" / f"{digest}.json")

    def params(self, role: str = ADMIN, dbname: str | None = None) -> dict[str, str]:
        """libpq connection parameters for ``role`` (``ADMIN`` for the administrator)."""
        if self.embedded:
            base = {"host": LISTEN_ADDRESS, "port": str(self.settings.port), "dbname": LAB_DATABASE}
            admin = {"user": SUPERUSER, "password": self.server.passwords.get(SUPERUSER) or ""}
        else:
            base = self._external_params()
            admin = {key: base.pop(key) for key in ("user", "password") if key in base}
        if role == ADMIN:
            params = {**base, **admin}
        else:
            password = self.passwords.get(role)
            if password is None:
                raise LabError(
                    f"No password is recorded for role {role!r}",
                    "Run `labkit setup`, which creates the lab's roles and their passwords",
                )
            params = {**base, "user": role, "password": password}
        if dbname is not None:
            params["dbname"] = dbname
        return params


def target() -> Target:
    """The lab database named by the current environment."""
    return Target(settings_module.load())


def url(role: str = ADMIN, *, driver: str | None = None, dbname: str | None = None) -> str:
    """A libpq URL (``postgresql://...``) that psql, psycopg and SQLAlchemy accept.

    ``driver="psycopg"`` gives the SQLAlchemy form ``postgresql+psycopg://``.
    """
    return params_to_url(target().params(role, dbname), driver=driver)


def ensure_database(lab: Target) -> bool:
    """Create the lab database if it is missing. Returns True when it was created."""
    import psycopg
    from psycopg import sql

    with maintenance(lab) as conn:
        if database_exists(conn, lab.database):
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(lab.database)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            return False  # another process created it a moment ago
        except psycopg.errors.InsufficientPrivilege as error:
            from .provider import create_database_error

            raise LabError(*create_database_error(conn.info.user, lab.database, error)) from error
    return True


def maintenance(lab: Target) -> psycopg.Connection[Any]:
    """The administrator on the maintenance database, outside any transaction: where
    databases are created, renamed and dropped."""
    import psycopg

    return psycopg.connect(**lab.params(ADMIN, dbname="postgres"), autocommit=True)


def database_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,))
    return row.fetchone() is not None


def drop_database_if_exists(conn: psycopg.Connection[Any], name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions."""
    from psycopg import sql

    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def ensure_server() -> Target:
    """Start the embedded server if it is not running; external servers are left alone."""
    lab = target()
    if lab.embedded:
        lab.server.ensure_running()
    return lab


def connect_params(role: str = ADMIN, dbname: str | None = None) -> dict[str, str]:
    """libpq parameters for ``role``, with the embedded server started if needed."""
    return ensure_server().params(role, dbname)


def connect(
    role: str = ADMIN, *, dbname: str | None = None, **kwargs: Any
) -> psycopg.Connection[Any]:
    """Open a psycopg connection to the lab database as ``role``.

    Starts the embedded server if it is not running. Extra keyword arguments go
    to ``psycopg.connect`` (``autocommit=True``, ``row_factory=...``).
    """
    import psycopg

    lab = target()
    try:
        return psycopg.connect(**lab.params(role, dbname), **kwargs)
    except psycopg.OperationalError as error:
        # Connecting first and starting only on failure keeps the common case,
        # a running server, as fast as a plain psycopg.connect.
        if not (lab.embedded and lab.server.ensure_running()):
            raise _explain(error, lab.params(role, dbname)) from error
        ensure_database(lab)
    params = lab.params(role, dbname)
    try:
        return psycopg.connect(**params, **kwargs)
    except psycopg.OperationalError as error:
        raise _explain(error, params) from error


def scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    """The one value ``query`` returns."""
    row = conn.execute(query, params or None).fetchone()
    assert row is not None
    return row[0]


def _explain(error: psycopg.OperationalError, params: dict[str, str]) -> LabError:
    message = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
    where = f"{params.get('host')}:{params.get('port', 5432)}/{params.get('dbname')}"
    if "password authentication failed" in message or (
        "role" in message and "does not exist" in message
    ):
        return LabError(
            f"Role {params.get('user')!r} cannot log in to {where} ({message})",
            "Run `labkit setup`, which creates the lab's roles and sets their passwords",
        )
    if "database" in message and "does not exist" in message:
        return LabError(
            f"The lab database is missing on {where}", "Run `labkit setup` to create it"
        )
    return LabError(
        f"Cannot connect to {where} ({message})",
        "Check that the server is running (`labkit status`) and that DATABASE_URL, if set, is right",
    )
