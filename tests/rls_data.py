"""A few rows per store, written as the superuser, and the truth about them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import psycopg

from labkit import catalog, contract

KEYS = {
    "customers": "customer_id",
    "products": "product_id",
    "sales_transactions": "transaction_id",
    "sales_transaction_items": "item_id",
    "product_embeddings": "embedding_id",
}
MODEL = "rls-test-model"


@dataclass
class StoreRows:
    """Keys of the rows written for one store, by table."""

    keys: dict[str, list[uuid.UUID]] = field(default_factory=lambda: {t: [] for t in KEYS})

    def first(self, table: str) -> uuid.UUID:
        return self.keys[table][0]


def write(admin: psycopg.Connection, tag: str) -> dict[str, StoreRows]:
    """Two customers, products, sales, items and embeddings per store."""
    rows = {store: StoreRows() for store in contract.STORES}
    for store, mine in rows.items():
        for i in range(2):
            (customer,) = admin.execute(
                "INSERT INTO retail.customers (store_id, first_name, last_name, email)"
                " VALUES (%s, 'Test', %s, %s) RETURNING customer_id",
                (store, f"{tag}{i}", f"{tag}-{store}-{i}@test.example"),
            ).fetchone()
            (product,) = admin.execute(
                "INSERT INTO retail.products (store_id, sku, product_name, price)"
                " VALUES (%s, %s, 'Test product', 10) RETURNING product_id",
                (store, f"{tag}-{i}"),
            ).fetchone()
            (sale,) = admin.execute(
                "INSERT INTO retail.sales_transactions (store_id, customer_id) VALUES (%s, %s)"
                " RETURNING transaction_id",
                (store, customer),
            ).fetchone()
            (item,) = admin.execute(
                "INSERT INTO retail.sales_transaction_items"
                " (transaction_id, product_id, quantity, unit_price, total_price)"
                " VALUES (%s, %s, 1, 10, 10) RETURNING item_id",
                (sale, product),
            ).fetchone()
            (embedding,) = admin.execute(
                "INSERT INTO retail.product_embeddings"
                " (product_id, store_id, embedding_text, embedding, embedding_model)"
                " VALUES (%s, %s, 'Test product', '[1,2,3]', %s) RETURNING embedding_id",
                (product, store, MODEL),
            ).fetchone()
            for table, key in zip(KEYS, (customer, product, sale, item, embedding), strict=True):
                mine.keys[table].append(key)
    return rows


def remove(admin: psycopg.Connection, tag: str) -> None:
    """Delete what ``write`` wrote (items and embeddings go with their parents)."""
    admin.execute(
        "DELETE FROM retail.sales_transactions WHERE customer_id IN"
        " (SELECT customer_id FROM retail.customers WHERE email LIKE %s)",
        (f"{tag}-%",),
    )
    admin.execute("DELETE FROM retail.products WHERE sku LIKE %s", (f"{tag}-%",))
    admin.execute("DELETE FROM retail.customers WHERE email LIKE %s", (f"{tag}-%",))


def truth(admin: psycopg.Connection) -> dict[str, dict[uuid.UUID, str]]:
    """Every row's store, by table, as the superuser sees it."""
    owners: dict[str, dict[uuid.UUID, str]] = {}
    for table, key in KEYS.items():
        owners[table] = dict(
            admin.execute(f"SELECT {key}, store_id FROM retail.{table}").fetchall()
        )
    return owners


def fingerprint(admin: psycopg.Connection) -> dict[str, list]:
    """A checksum of every per-store table's full contents."""
    return catalog.table_checksums(admin, contract.SCHEMA, KEYS)
