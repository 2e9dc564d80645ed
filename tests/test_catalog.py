"""labkit.catalog reads the schema back; its snapshot notices any change."""

from __future__ import annotations

import psycopg
import pytest

from labkit import catalog, contract


def test_columns_are_read_in_table_order(admin: psycopg.Connection) -> None:
    live = catalog.columns(admin)
    assert list(live["stores"])[:2] == ["store_id", "store_name"]
    assert live["product_embeddings"]["embedding"] == "vector"
    assert catalog.columns(admin, "no_such_schema") == {}


def test_the_snapshot_sees_a_new_index_a_new_default_and_a_new_grant(
    admin: psycopg.Connection,
) -> None:
    before = catalog.snapshot(admin)
    assert any(line.startswith("relation stores r ") for line in before)
    assert any(line.startswith("functions retail.touch_updated_at()") for line in before)
    changes = (
        "CREATE INDEX snapshot_probe ON retail.stores (region)",
        "ALTER TABLE retail.stores ALTER COLUMN region SET DEFAULT 'west'",
        f"GRANT SELECT ON retail.store_logins TO {contract.APP_ROLE}",
    )
    for change in changes:
        with admin.transaction(force_rollback=True):
            admin.execute(change)
            assert catalog.snapshot(admin) != before, change
    assert catalog.snapshot(admin) == before


def test_table_checksums_of_one_schema_are_keyed_by_table_and_refuse_unknown_names(
    admin: psycopg.Connection,
) -> None:
    every = catalog.table_checksums(admin)
    stores = catalog.table_checksums(admin, contract.SCHEMA, ["stores"])
    assert stores == {"stores": every[f"{contract.SCHEMA}.stores"]}
    assert stores["stores"][0] == 4
    with pytest.raises(LookupError, match="no_such_table"):
        catalog.table_checksums(admin, contract.SCHEMA, ["stores", "no_such_table"])
