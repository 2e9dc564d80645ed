"""Realistic, deterministic sample data for the retail schema, loaded in bulk.

>>> from labkit import sampledata
>>> report = sampledata.seed("lab", seed=42)     # 2,000 customers, 500 products, 5,000 sales
>>> report.rows["sales_transaction_items"]

The parts, in the order they run:

- ``params``: the scales and every distribution (SPEC's shares where it gives them).
- ``catalog`` (+ ``catalog.toml``): product types per category, with words that
  describe them, so that vector search has something to find.
- ``people``, ``products``, ``sales``, ``clock``: the rows, drawn with numpy for
  all rows at once (names from Faker's locale data).
- ``money``: what subtotal, discount, tax and total mean, in integer cents.
- ``tables``, ``sales_tables``: the rows of each table, keyed with UUIDv7s
  (products: by store and SKU, so that their embeddings survive a reseed).
- ``copytext``, ``copybinary``: COPY's text and binary formats, built with numpy;
  ``stream`` sends them, formatting the next chunk while the server stores one.
- ``load``: one transaction as the owner: TRUNCATE, COPY, checks, one audit row
  per table (bulk loads are audited per table, not per row; see ``load``).

The same seed and end date give the same rows, byte for byte (with the same
versions of numpy and Faker: numpy may change a distribution's stream between
releases, and Faker its name lists).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import contract, db
from . import clock, load, params, people, products, sales, sales_tables, tables
from .load import fingerprint
from .params import DEFAULT_SCALE, DEFAULT_SEED, SCALES, Counts

__all__ = [
    "DEFAULT_SCALE",
    "DEFAULT_SEED",
    "SCALES",
    "Counts",
    "SeedReport",
    "fingerprint",
    "generate",
    "seed",
]


@dataclass
class SeedReport:
    """What a seed wrote (rows per table) and how long it took, end to end.
    ``rows["product_embeddings"]`` counts the embeddings kept (written earlier,
    for a product whose text came back unchanged), not in ``total_rows``."""

    scale: str
    seed: int
    end: dt.date
    counts: Counts
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: Seconds per phase of the load: drawing, copying, keys, indexes, audit.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(n for t, n in self.rows.items() if t != load.KEPT_TABLE)

    def __str__(self) -> str:
        parts = ", ".join(f"{n:,} {t}" for t, n in self.rows.items() if n and t != load.KEPT_TABLE)
        kept = self.rows.get(load.KEPT_TABLE, 0)
        text = (
            f"Seeded {self.total_rows:,} rows in {self.seconds:.2f} s"
            f" ({self.total_rows / max(self.seconds, 1e-9):,.0f} rows/s): {parts}"
            f"; kept {kept:,} embeddings of unchanged product texts"
        )
        if self.seconds >= 5:  # where the time went, when there is time to account for
            text += "\n  " + ", ".join(f"{name} {s:.1f} s" for name, s in self.phases.items())
        return text


def generate(counts: Counts, seed: int, end: dt.date) -> Callable[[list[int]], list[tables.Table]]:
    """Draw every row; returns ``build(category_ids) -> [Table, ...]`` for ``load``.

    Each part draws from its own generator, spawned from ``seed``, so a change
    to how products are made does not reshuffle the customers.
    """
    streams = np.random.SeedSequence(seed).spawn(4)
    rngs = [np.random.default_rng(stream) for stream in streams]
    first_day, _ = clock.window(end)
    customers = people.generate(rngs[0], counts.customers, first_day)
    goods = products.generate(rngs[1], counts.products)
    sold = sales.generate(rngs[2], counts.transactions, customers, goods, first_day)

    def build(category_ids: list[int]) -> list[tables.Table]:
        keys = np.random.default_rng(streams[3])  # afresh: build() may run again
        customer_table, customer_keys = tables.customers_table(keys, customers, sold)
        product_table, product_keys = tables.products_table(
            keys, goods, sold, category_ids, first_day
        )
        sale_table, sale_keys = sales_tables.transactions_table(keys, sold, customer_keys)
        items = sales_tables.items_table(keys, sold, sale_keys, product_keys)
        return [customer_table, product_table, sale_table, items]

    return build


def seed(
    scale: str = DEFAULT_SCALE,
    *,
    seed: int = DEFAULT_SEED,
    customers: int | None = None,
    products: int | None = None,
    transactions: int | None = None,
    end: dt.date | None = None,
    quiet: bool = False,
) -> SeedReport:
    """Replace the sample data with a fresh draw, in one transaction.

    ``scale`` is ``tiny``, ``lab`` or ``large``; ``customers``, ``products`` and
    ``transactions`` override its counts. Sales fall in the 365 days before
    ``end`` (default: today). Reference data (stores, categories) stays.
    """
    started = time.perf_counter()
    counts = params.counts(scale, customers=customers, products=products, transactions=transactions)
    params.check_seed(seed)
    end = end or dt.date.today()
    build = generate(counts, seed, end)
    about = {"scale": scale, "seed": seed, "end": end.isoformat(), **vars(counts)}
    total = counts.customers + counts.products + counts.transactions
    phases = load.Phases(announce=not quiet and total * 2 >= load.ANNOUNCE_ROWS)
    with db.connect(contract.OWNER_ROLE) as conn:
        rows = load.load(conn, build, about, quiet=quiet, phases=phases)
    report = SeedReport(scale, seed, end, counts, rows, phases=phases.seconds)
    report.seconds = time.perf_counter() - started
    return report
