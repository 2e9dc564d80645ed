"""A managed-style PostgreSQL server: what Azure, RDS or Cloud SQL hand a customer.

A second cluster from the same embedded binaries, whose superuser plays the
provider. The customer gets an administrator that is ``LOGIN CREATEDB
CREATEROLE``, neither SUPERUSER nor BYPASSRLS, and a member of
``pg_read_all_stats``, ``pg_monitor`` and ``pg_signal_backend`` (without ADMIN
OPTION), and a database ``zava`` it owns, in which the provider has already
created ``vector`` and ``pg_stat_statements``.

Allow-listing, as the providers do it (``azure.extensions``, RDS's
``rds.allowed_extensions``), is emulated with PostgreSQL's own means: the
provider puts copies of the two extensions' control files, marked
``trusted = true``, in a folder of its own and points that administrator's
``extension_control_path`` at it (a superuser-only setting). A trusted
extension may be created by any role with CREATE on the database, its script
running with the bootstrap superuser's rights; so the administrator may create
exactly these two extensions and no other, as on Azure. A second
administrator, ``bare_admin``, gets no allow-list, and ``limited_admin`` lacks
CREATEROLE and CREATEDB: they exercise the errors.

Set ``LABKIT_TEST_MANAGED_URL`` to a real managed server's URL (its admin login
and a database for the lab) to run the same tests there instead; the tests
that need the provider's own login are then skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from labkit import binaries, db, settings
from labkit.server import EmbeddedServer

ADMIN = "lab_admin"
#: No allow-list: CREATE EXTENSION is refused as on a provider that has not
#: allowed the extension yet.
BARE_ADMIN = "bare_admin"
#: Neither CREATEROLE nor CREATEDB.
LIMITED_ADMIN = "limited_admin"
DATABASE = "zava"
PROVIDER_EXTENSIONS = ("vector", "pg_stat_statements")
ADMIN_ROLES = ("pg_read_all_stats", "pg_monitor", "pg_signal_backend")
URL_VARIABLE = "LABKIT_TEST_MANAGED_URL"


@dataclass
class ManagedServer:
    """A running managed-style server, or a real one named by LABKIT_TEST_MANAGED_URL."""

    url: str
    server: EmbeddedServer | None = None
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def emulated(self) -> bool:
        return self.server is not None

    def url_for(self, role: str, dbname: str) -> str:
        """The URL of ``dbname`` as one of the provider's customer logins."""
        params = {**db.Target(settings.load({"DATABASE_URL": self.url}))._external_params()}
        params.update(user=role, password=self.passwords[role], dbname=dbname)
        return db.params_to_url(params)

    def provider(self, dbname: str = "postgres") -> psycopg.Connection:
        """A superuser connection: the provider's side, never the lab's."""
        assert self.server is not None, "a real managed server gives no superuser"
        params = db.Target(self.server.settings).params(db.ADMIN, dbname)
        return psycopg.connect(**params, autocommit=True)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def _allow_list(folder: Path) -> Path:
    """Trusted copies of the provider's extensions, for extension_control_path."""
    system = binaries.bin_dir(settings.load()).parent / "share" / "extension"
    target = folder / "extension"
    target.mkdir(parents=True)
    for name in PROVIDER_EXTENSIONS:
        for script in system.glob(f"{name}--*.sql"):
            shutil.copy(script, target / script.name)
        control = (system / f"{name}.control").read_text(encoding="utf-8")
        (target / f"{name}.control").write_text(control + "trusted = true\n", encoding="utf-8")
    # The server runs as its own account (as root: the service account).
    for path in (folder, target, *target.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    binaries.make_reachable(folder)
    return folder


def start(data_dir: Path, port: int) -> ManagedServer:
    """Create and start the managed-style cluster in ``data_dir``, set up as a provider would."""
    if os.environ.get(URL_VARIABLE):
        return ManagedServer(url=os.environ[URL_VARIABLE])
    server = EmbeddedServer(
        settings.load({"LABKIT_DATA_DIR": str(data_dir), "LABKIT_PORT": str(port)})
    )
    server.ensure_running()
    allowed = _allow_list(data_dir / "allow-list")
    passwords = {role: secrets.token_urlsafe(18) for role in (ADMIN, BARE_ADMIN, LIMITED_ADMIN)}
    managed = ManagedServer(url="", server=server, passwords=passwords)
    with managed.provider() as conn:
        for role, attributes in (
            (ADMIN, "CREATEDB CREATEROLE"),
            (BARE_ADMIN, "CREATEDB CREATEROLE"),
            (LIMITED_ADMIN, "NOCREATEDB NOCREATEROLE"),
        ):
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS " + attributes).format(
                    sql.Identifier(role)
                )
            )
            conn.execute(
                sql.SQL("GRANT {} TO {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, ADMIN_ROLES)), sql.Identifier(role)
                )
            )
            verifier = conn.pgconn.encrypt_password(
                passwords[role].encode(), role.encode(), b"scram-sha-256"
            )
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(verifier.decode())
                )
            )
        conn.execute(
            sql.SQL("ALTER ROLE {} SET extension_control_path = {}").format(
                sql.Identifier(ADMIN), sql.Literal(f"{allowed}:$system")
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(DATABASE), sql.Identifier(ADMIN)
            )
        )
    with managed.provider(DATABASE) as conn:
        for extension in PROVIDER_EXTENSIONS:
            conn.execute(
                sql.SQL("CREATE EXTENSION {} WITH SCHEMA public").format(sql.Identifier(extension))
            )
    managed.url = db.params_to_url(
        {
            "host": "127.0.0.1",
            "port": str(port),
            "user": ADMIN,
            "password": passwords[ADMIN],
            "dbname": DATABASE,
        }
    )
    return managed


def provider_database(managed: ManagedServer, name: str, owner: str) -> str:
    """An empty database made by the provider for ``owner``; its URL as that owner."""
    with managed.provider() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    return managed.url_for(owner, name)
