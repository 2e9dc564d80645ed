"""labkit.backup.fingerprint.take against the server: what a fingerprint says of a
database is what the superuser counts in it, and what it cannot check it says why."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from labkit import contract, db
from labkit.backup import fingerprint
from labkit.backup.fingerprint import NO_STORE, SEARCH_RESULTS, Fingerprint
from labkit.errors import LabError

from . import search_data


@pytest.fixture(scope="module", autouse=True)
def _embedded_stores() -> Iterator[None]:
    """The search tests' two stores, embedded, so that there are results to record."""
    with search_data.embedded():
        yield


@pytest.fixture
def taken() -> Fingerprint:
    """The live database's fingerprint, taken by each test (so that each is seen to run
    the code that takes it)."""
    lab = db.ensure_server()
    return fingerprint.take(lab, lab.database)


def test_every_table_is_counted_but_the_context_key(
    taken: Fingerprint, admin: psycopg.Connection
) -> None:
    assert contract.CONTEXT_KEY_TABLE not in taken.tables
    for name in ("retail.stores", "retail.products", "retail.product_embeddings"):
        schema, table = name.split(".")
        (rows,) = admin.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        ).fetchone()
        assert taken.tables[name][0] == rows, name
    assert "indexes" in taken.schema and taken.schema["indexes"] == sorted(taken.schema["indexes"])


def test_mcp_user_sees_each_store_s_rows_and_none_without_a_store(
    taken: Fingerprint, admin: psycopg.Connection
) -> None:
    assert taken.isolation is not None and taken.leaks == 0
    stores = [s for (s,) in admin.execute("SELECT store_id FROM retail.stores WHERE is_active")]
    assert search_data.NORTH in stores
    for name in ("retail.products", "retail.product_embeddings", "retail.customers"):
        seen = taken.isolation[name]
        assert set(seen) == {NO_STORE, *stores} and seen[NO_STORE] == 0, name
        counts = dict(
            admin.execute(
                sql.SQL("SELECT store_id, count(*) FROM {} GROUP BY 1").format(
                    sql.Identifier(*name.split("."))
                )
            ).fetchall()
        )
        assert {store: seen[store] for store in stores} == {s: counts.get(s, 0) for s in stores}


def test_each_embedded_store_has_its_top_results_best_first(
    taken: Fingerprint, admin: psycopg.Connection
) -> None:
    assert taken.search is not None and taken.notes == {}
    for store in search_data.STORES:
        (embedded,) = admin.execute(
            "SELECT count(*) FROM retail.product_embeddings WHERE store_id = %s", (store,)
        ).fetchone()
        results = taken.search[store]
        assert len(results) == min(SEARCH_RESULTS, embedded) > 1
        scores = [float(result.split()[1]) for result in results]
        assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(1.0)
        ids = {uuid.UUID(result.split()[0]) for result in results}
        owners = admin.execute(
            "SELECT DISTINCT store_id FROM retail.products WHERE product_id = ANY(%s)", (list(ids),)
        ).fetchall()
        assert owners == [(store,)]


def test_taking_it_twice_gives_the_same_fingerprint(taken: Fingerprint) -> None:
    lab = db.ensure_server()
    again = fingerprint.take(lab, lab.database)
    assert again.tables == taken.tables and again.search == taken.search
    assert again.isolation == taken.isolation and again.schema == taken.schema


def test_a_database_named_is_fingerprinted_now(taken: Fingerprint) -> None:
    live = db.ensure_server().database
    for pair in ((live, taken), (taken, live), (live, live)):
        report = fingerprint.compare(*pair)
        assert report.ok, str(report)
    assert fingerprint.compare(live, taken).source == live


@pytest.mark.parametrize("failure", ["no password", "a wrong password"])
def test_mcp_user_unable_to_log_in_is_said_and_nothing_checked(
    failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = db.Target.params

    def app_login_fails(self: db.Target, role: str = db.ADMIN, dbname: str | None = None) -> dict:
        if role != contract.APP_ROLE:
            return params(self, role, dbname)
        if failure == "no password":
            raise LabError(f"no password for {role}", "Run labkit setup")
        return params(self, role, dbname) | {"password": "not-the-password"}

    monkeypatch.setattr(db.Target, "params", app_login_fails)
    lab = db.ensure_server()
    blind = fingerprint.take(lab, lab.database)
    assert blind.isolation is None and blind.search is None and blind.tables
    why = {
        "no password": "no password for mcp_user",
        "a wrong password": 'password authentication failed for user "mcp_user"',
    }[failure]
    assert set(blind.notes) == {"isolation", "search"}
    assert blind.notes["isolation"] == blind.notes["search"]
    assert blind.notes["isolation"].startswith("mcp_user cannot log in: ")
    assert blind.notes["isolation"].endswith(why), blind.notes


def test_a_database_without_the_lab_schema_is_fingerprinted_but_not_checked(
    admin: psycopg.Connection,
) -> None:
    name = f"fingerprint_bare_{uuid.uuid4().hex[:8]}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        bare = fingerprint.take(db.ensure_server(), name)
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    assert bare.isolation is None and bare.search is None and bare.leaks == 0
    reason = "there is no retail.stores or retail.set_store_context to act for a store"
    assert bare.notes == {"isolation": reason, "search": reason}
