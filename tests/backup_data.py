"""Data for the backup tests: the sample data, and vectors for the search check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

import labkit
from labkit import catalog, contract, sampledata
from labkit.backup import fingerprint

#: Products' own rows of the offline model, written by the tests and removed after.
TEST_TEXT = "backup test vector"


def ensure_sales() -> str:
    """Sales in every store: the sample data's tiny scale, seeded only if there are none."""
    with labkit.connect() as conn:
        row = conn.execute("SELECT count(DISTINCT store_id) FROM retail.sales_transactions")
        stores = (row.fetchone() or [0])[0]
    if stores < len(contract.STORES):
        sampledata.seed("tiny", quiet=True)
        return "labkit.sampledata, tiny scale"
    return "the sample data already loaded"


@contextmanager
def search_vectors(dimensions: int = contract.OFFLINE_EMBEDDING_DIMENSIONS) -> Iterator[int]:
    """Deterministic unit vectors of the offline model for products without one.

    They stand in for real embeddings (the backup only has to carry them and the
    HNSW index over them); the rows are deleted at the end.
    """
    with labkit.connect(autocommit=True) as admin:
        products = admin.execute(
            "SELECT p.product_id, p.store_id FROM retail.products AS p WHERE NOT EXISTS"
            " (SELECT FROM retail.product_embeddings AS e"
            "  WHERE e.product_id = p.product_id AND e.embedding_model = %s)"
            " ORDER BY p.product_id",
            (contract.OFFLINE_EMBEDDING_MODEL,),
        ).fetchall()
        vectors = np.random.default_rng(7).normal(size=(len(products), dimensions))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with admin.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO retail.product_embeddings"
                " (product_id, store_id, embedding_text, embedding, embedding_model)"
                " VALUES (%s, %s, %s, %s::vector, %s)",
                [
                    (product, store, TEST_TEXT, _text(vector), contract.OFFLINE_EMBEDDING_MODEL)
                    for (product, store), vector in zip(products, vectors, strict=True)
                ],
            )
    try:
        yield len(products)
    finally:
        # A new connection: a test may have replaced the live database meanwhile.
        with labkit.connect(autocommit=True) as admin:
            admin.execute(
                "DELETE FROM retail.product_embeddings WHERE embedding_text = %s", (TEST_TEXT,)
            )


def search_function_exists() -> bool:
    with labkit.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_proc WHERE proname = 'search_products_by_similarity'"
        ).fetchone()
    return bool(row and row[0])


def live_tables() -> dict[str, list]:
    """Rows and checksums of every table of the live database."""
    lab = labkit.db.ensure_server()
    with fingerprint.admin_connection(lab, lab.database) as conn:
        return catalog.table_checksums(conn)


def databases() -> set[str]:
    with labkit.connect() as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_catalog.pg_database")}


def _text(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{value:.6f}" for value in vector) + "]"
