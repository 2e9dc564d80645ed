from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import conninfo, sql

import labkit
from labkit import db
from labkit.errors import LabError


@pytest.mark.parametrize(
    "params",
    [
        {
            "user": "retail_owner",
            "password": "p@ss:w/rd?&=",
            "host": "127.0.0.1",
            "port": "5",
            "dbname": "zava",
        },
        {"user": "u", "password": "x", "host": "::1", "port": "5432", "dbname": "a b"},
        {"user": "u", "host": "/var/run/postgresql", "dbname": "zava"},  # a socket folder
        {
            "user": "u",
            "password": "x",
            "host": "db.example",
            "dbname": "zava",
            "sslmode": "require",
        },
    ],
)
def test_urls_round_trip_through_libpq(params: dict[str, str]) -> None:
    assert conninfo.conninfo_to_dict(db.params_to_url(params)) == params


def test_sqlalchemy_urls_name_the_driver() -> None:
    assert labkit.url(driver="psycopg").startswith("postgresql+psycopg://postgres:")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a valid PostgreSQL URL"),
        ("postgresql://u:p@localhost:5432", "names no database"),
        ("postgresql://u:p@localhost:5432/postgres", "maintenance database"),
    ],
)
def test_a_bad_database_url_says_what_form_to_use(
    url: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(LabError, match=message) as error:
        labkit.connect()
    assert "postgresql://" in error.value.fix or "database of its own" in error.value.fix


def test_an_unknown_role_points_to_setup() -> None:
    with pytest.raises(LabError, match="labkit setup"):
        labkit.connect("no_such_role")


def test_a_wrong_password_points_to_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    target = db.target()
    params = target.params("retail_owner")
    monkeypatch.setattr(
        db.Target,
        "params",
        lambda self, role=db.ADMIN, dbname=None: {**params, "password": "wrong"},
    )
    with pytest.raises(LabError, match="cannot log in") as error:
        labkit.connect("retail_owner")
    assert "labkit setup" in str(error.value)


@pytest.fixture
def external_database(admin: psycopg.Connection) -> Iterator[str]:
    """A second database on the test server, reached only through DATABASE_URL."""
    name = "zava_external"
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    yield db.url(dbname=name)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    # Roles are server-wide: give the embedded setup its own passwords back.
    labkit.setup()


def test_database_url_takes_the_same_code_path(
    external_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", external_database)
    monkeypatch.setenv("LABKIT_PG_BIN", os.devnull)  # the embedded server must not be needed
    report = labkit.setup()
    assert report.database_created
    assert report.files[0] == "00_roles.sql"
    with labkit.connect("retail_owner") as conn:
        row = conn.execute(
            "SELECT current_database(), current_user, count(*) FROM retail.stores"
        ).fetchone()
    assert row == ("zava_external", "retail_owner", 4)
    assert labkit.url("retail_owner").endswith("/zava_external")
    assert not labkit.setup().database_created
