"""labkit.diagram reads the retail schema's foreign keys and lays them out."""

from __future__ import annotations

import labkit
from labkit import contract, diagram

EXPECTED = [
    ("customers", "store_id", "stores"),
    ("product_categories", "parent_category_id", "product_categories"),
    ("product_embeddings", "store_id, product_id", "products"),
    ("products", "category_id", "product_categories"),
    ("products", "store_id", "stores"),
    ("sales_transaction_items", "store_id, product_id", "products"),
    ("sales_transaction_items", "store_id, transaction_id", "sales_transactions"),
    ("sales_transactions", "store_id, customer_id", "customers"),
    ("sales_transactions", "store_id", "stores"),
    ("store_logins", "store_id", "stores"),
]


def test_foreign_keys_are_the_schemas() -> None:
    labkit.setup()
    with labkit.connect() as conn:
        assert diagram.foreign_keys(conn) == EXPECTED


def test_layout_puts_stores_top_center_and_is_deterministic() -> None:
    tables = sorted({**contract.TABLES, **contract.LAB_TABLES})
    pos = diagram.layout(tables, EXPECTED)
    assert pos["stores"] == (0.0, 0.0)
    assert all(pos[table][1] < 0 for table in contract.PER_STORE_TABLES)
    assert diagram.layout(tables[::-1], EXPECTED[::-1]) == pos
