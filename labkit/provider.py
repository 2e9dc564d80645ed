"""Which managed service a server is, and where its customers change what a superuser would.

Detected from settings only a provider's server has (``azure.extensions``,
``rds.extensions``, ``cloudsql.*``), so no host-name guessing. Every hint names
the service's own place for the change, or says it generically.
"""

from __future__ import annotations

from typing import Any, Literal

import psycopg

Provider = Literal["azure", "rds", "cloudsql", "other"]

_DETECT = """
    SELECT CASE
        WHEN bool_or(name LIKE 'azure.%%') THEN 'azure'
        WHEN bool_or(name LIKE 'rds.%%') THEN 'rds'
        WHEN bool_or(name LIKE 'cloudsql.%%') THEN 'cloudsql'
        ELSE 'other' END
    FROM pg_catalog.pg_settings
"""

#: Where each service lets a customer allow an extension and preload a library.
_EXTENSIONS: dict[Provider, str] = {
    "azure": "on Azure Database for PostgreSQL, add {names} to the server parameter "
    "azure.extensions (and pg_stat_statements to shared_preload_libraries), in the portal "
    "(Server parameters) or with `az postgres flexible-server parameter set`",
    "rds": "on Amazon RDS, log in as a member of rds_superuser (the master user) to create "
    "{names}; pg_stat_statements also needs shared_preload_libraries in the DB parameter group",
    "cloudsql": "on Cloud SQL, log in as a member of cloudsqlsuperuser (the default postgres "
    "user) to create {names}",
    "other": "ask the provider to allow-list {names} (Azure: the azure.extensions server "
    "parameter; Amazon RDS: rds_superuser and a DB parameter group; Cloud SQL: cloudsqlsuperuser), "
    "or have a superuser run CREATE EXTENSION for them in this database",
}

#: Where each service changes server settings that ALTER SYSTEM would change.
_SETTINGS: dict[Provider, str] = {
    "azure": "the portal's Server parameters (or `az postgres flexible-server parameter set`)",
    "rds": "the instance's DB parameter group",
    "cloudsql": "the instance's database flags",
    "other": "the provider's server parameters (Azure: Server parameters; RDS: a DB parameter "
    "group; Cloud SQL: database flags)",
}

#: Each service's own point-in-time restore.
_RECOVERY: dict[Provider, str] = {
    "azure": "Azure's point-in-time restore (portal: Overview > Restore)",
    "rds": "RDS's 'Restore to point in time'",
    "cloudsql": "Cloud SQL's point-in-time recovery (clone to a timestamp)",
    "other": "the provider's point-in-time restore (Azure, RDS and Cloud SQL all keep WAL "
    "for you and restore to a chosen time)",
}


def detect(conn: psycopg.Connection[Any]) -> Provider:
    row = conn.execute(_DETECT).fetchone()
    value = row[0] if row else "other"
    return value if value in _SETTINGS else "other"  # type: ignore[return-value]


def extensions_hint(provider: Provider, names: list[str]) -> str:
    return _EXTENSIONS[provider].format(names=" and ".join(names))


def settings_hint(provider: Provider) -> str:
    return _SETTINGS[provider]


def recovery_hint(provider: Provider) -> str:
    return _RECOVERY[provider]


def setup_error(
    conn: psycopg.Connection[Any], filename: str, error: psycopg.Error
) -> tuple[str, str] | None:
    """What a privilege error during setup means on this server, and what to do about it."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    user = conn.info.user
    if isinstance(error, psycopg.errors.InsufficientPrivilege) and "extension" in message:
        return extensions_error(conn, filename, ["vector", "pg_stat_statements"], error)
    if isinstance(error, psycopg.errors.InsufficientPrivilege) and "create role" in message:
        return (
            f"{filename} failed: {user!r} may not create roles ({message})",
            "The lab creates its own roles (retail_owner, retail_app, mcp_user, the store logins): "
            "log in as the server's administrator, which has CREATEROLE on Azure, RDS (the master "
            "user) and Cloud SQL (the postgres user), or have one create them; "
            "then run labkit setup again",
        )
    if isinstance(error, psycopg.errors.InsufficientPrivilege) and "grant role" in message:
        return (
            f"{filename} failed: {user!r} may not grant itself the lab's roles ({message})",
            "On PostgreSQL 16 and later a CREATEROLE login administers only the roles it created: "
            "run labkit setup as the login that created retail_owner and the other lab roles, or "
            f"have it run GRANT retail_owner, retail_app TO {user} WITH INHERIT TRUE, SET TRUE",
        )
    return None


def extensions_error(
    conn: psycopg.Connection[Any], filename: str, wanted: list[str], error: psycopg.Error
) -> tuple[str, str]:
    """The extensions of ``wanted`` that are missing, and where this provider allows them."""
    message = str(error).strip().splitlines()[0]
    installed = {name for (name,) in conn.execute("SELECT extname FROM pg_catalog.pg_extension")}
    missing = sorted(set(wanted) - installed) or sorted(wanted)
    return (
        f"{filename} failed: {conn.info.user!r} may not create the extension(s) "
        f"{', '.join(missing)} ({message})",
        extensions_hint(detect(conn), missing) + "; then run labkit setup again",
    )


def create_database_error(user: str, database: str, error: psycopg.Error) -> tuple[str, str]:
    return (
        f"{user!r} may not create the lab database {database!r} ({str(error).strip()})",
        "Create it in the provider's portal or CLI (Azure: `az postgres flexible-server db "
        "create`; RDS and Cloud SQL: as the master or postgres user), or log in as a role "
        "with CREATEDB, or point DATABASE_URL at a database that exists",
    )
