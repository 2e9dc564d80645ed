"""Embedding the catalog: every product once per model, again only when its text changes.

Writes run as ``mcp_user`` under ``labkit.as_store``, one store at a time, like
every tenant write in the lab: row-level security checks each row, and the
model, not the database, is the slow part (milliseconds to write a store's
rows, seconds to embed them). The alternative, all stores at once as the owner
inside ``labkit.bulk.bulk_load``, suits millions of generated rows, not this.
Each store's rows are written in one transaction after all of its vectors are
ready, so a failure (a missing key, a model error) leaves every store either
embedded or as it was, never half-done.

What changed is known without reading the texts back: the database builds each
product's text (``retail.product_embedding_text``, sql/05) and compares it with
the text its stored vector was made from.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from .. import tenancy
from ..errors import LabError
from . import get
from .base import Embedder, to_text

_PRODUCTS = """
    SELECT p.product_id, t.text, e.embedding_text IS NOT DISTINCT FROM t.text AS unchanged
    FROM retail.products AS p
    LEFT JOIN retail.product_categories AS c USING (category_id)
    CROSS JOIN LATERAL (SELECT retail.product_embedding_text(
        p.product_name, p.product_description, c.category_name,
        p.metadata ->> 'type', c.description)) AS t (text)
    LEFT JOIN retail.product_embeddings AS e
      ON e.product_id = p.product_id AND e.embedding_model = %s
    ORDER BY p.product_id
"""
_UPSERT = """
    INSERT INTO retail.product_embeddings
        (product_id, store_id, embedding_text, embedding, embedding_model)
    VALUES (%s, %s, %s, %s::vector, %s)
    ON CONFLICT (store_id, product_id, embedding_model) DO UPDATE
        SET embedding_text = EXCLUDED.embedding_text, embedding = EXCLUDED.embedding
"""


@dataclass
class EmbedReport:
    """What ``embed_catalog`` did, per store, and how fast the model ran."""

    model: str
    embedded: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    model_seconds: float = 0.0

    @property
    def texts_per_second(self) -> float:
        done = sum(self.embedded.values())
        return done / self.model_seconds if self.model_seconds else 0.0

    def __str__(self) -> str:
        done, kept = sum(self.embedded.values()), sum(self.unchanged.values())
        stores = ", ".join(f"{store} {n}" for store, n in self.embedded.items() if n) or "none"
        rate = f" ({self.texts_per_second:.0f} texts/s)" if done else ""
        return (
            f"Embedded {done:,} texts with {self.model} in {self.seconds:.1f} s{rate};"
            f" {kept:,} unchanged kept; per store: {stores}"
        )


def check_stores(stores: Sequence[str] | None = None) -> list[str]:
    """The active stores (all, or those named), or a clear error naming unknown ones."""
    with tenancy.pool().connection() as conn:
        rows = conn.execute("SELECT store_id FROM retail.stores WHERE is_active ORDER BY store_id")
        known = [store for (store,) in rows]
    unknown = [store for store in stores or [] if store not in known]
    if unknown:
        raise LabError(
            f"Unknown or inactive store {', '.join(map(repr, unknown))}",
            f"Pick from: {', '.join(known)}",
        )
    return list(stores) if stores is not None else known


def embed_catalog(
    stores: Sequence[str] | None = None, embedder: Embedder | None = None, *, progress: bool = True
) -> EmbedReport:
    """Embed every product of ``stores`` (default: all) whose text changed since it
    was last embedded with ``embedder`` (default: ``embeddings.get()``)."""
    started = time.perf_counter()
    model = embedder or get()
    chosen = check_stores(stores)
    report = EmbedReport(model=model.name)
    pending: dict[str, list[tuple[object, str]]] = {}
    for store in chosen:
        with tenancy.as_store(store) as conn:
            rows = conn.execute(_PRODUCTS, (model.name,)).fetchall()
        pending[store] = [(pid, text) for pid, text, unchanged in rows if not unchanged]
        report.unchanged[store] = len(rows) - len(pending[store])
    vectors: dict[str, list[str]] = {store: [] for store in chosen}
    total = sum(map(len, pending.values()))
    with tqdm(total=total, desc=model.name, unit="text", disable=not (progress and total)) as bar:
        for store, items in pending.items():
            for start in range(0, len(items), model.batch_size):
                batch = [text for _, text in items[start : start + model.batch_size]]
                began = time.perf_counter()
                vectors[store] += [to_text(vector) for vector in model.embed(batch)]
                report.model_seconds += time.perf_counter() - began
                bar.update(len(batch))
    for store, items in pending.items():
        if items:
            rows = [
                (pid, store, text, vector, model.name)
                for (pid, text), vector in zip(items, vectors[store], strict=True)
            ]
            with tenancy.as_store(store) as conn, conn.cursor() as cursor:
                cursor.executemany(_UPSERT, rows)
        report.embedded[store] = len(items)
    report.seconds = time.perf_counter() - started
    return report
