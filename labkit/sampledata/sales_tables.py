"""Transactions and their line items as rows for COPY, in binary format.

These are the big tables (a million transactions and two million lines at the
large scale), so every column is built for a whole chunk at once, and in
COPY's binary format: the server copies UUIDs, amounts and timestamps instead
of parsing their text.
"""

from __future__ import annotations

import numpy as np

from . import copybinary as cb
from . import copytext as ct
from . import params
from .copytext import Bytes, Field
from .sales import Sales
from .tables import Table

CASHIERS_PER_SHOP = 12
REGISTERS_PER_SHOP = 6
_REASONS = {
    "return": ("Wrong size", "Changed mind", "Defective", "Damaged in transit", "Unwanted gift"),
    "exchange": (
        "Exchanged for another size",
        "Exchanged for another color",
        "Replaced a defective unit",
    ),
}
_CHANNELS = (
    '{"channel": "in_store"}',
    '{"channel": "online", "device": "mobile"}',
    '{"channel": "online", "device": "desktop"}',
    '{"channel": "online", "device": "app"}',
)


def transactions_table(
    rng: np.random.Generator, sales: Sales, customer_keys: Bytes
) -> tuple[Table, Bytes]:
    """The sales_transactions table, and the transactions' keys (16 bytes each;
    rows are already in time order)."""
    n = len(sales)
    keys = ct.uuid7s(rng, sales.utc * 1000)
    online = sales.store == list(params.STORE_SHARE).index("online")
    codes = [f"{code}-" for code in params.STORE_CODE.values()]
    # Shop staff and tills; online orders have no cashier and one virtual till.
    cashiers = [None] + [f"{c}C{k + 1:02d}" for c in codes for k in range(CASHIERS_PER_SHOP)]
    cashier = np.where(
        online, 0, 1 + sales.store * CASHIERS_PER_SHOP + rng.integers(0, CASHIERS_PER_SHOP, n)
    )
    registers = [f"{c}R{k + 1:02d}" for c in codes for k in range(REGISTERS_PER_SHOP)]
    register = sales.store * REGISTERS_PER_SHOP + np.where(
        online, 0, rng.integers(0, REGISTERS_PER_SHOP, n)
    )
    # SEA-0000042: the store's code, then its receipts counted in time order.
    prefix = np.array([c.encode() for c in codes]).view(np.uint8).reshape(len(codes), -1)
    kinds = list(params.TRANSACTION_TYPES)
    notes: list[str | None] = [None]
    reason = np.zeros(n, dtype=np.int64)
    for kind, texts in _REASONS.items():
        mine = sales.kind == kinds.index(kind)
        reason[mine] = len(notes) + rng.integers(0, len(texts), int(mine.sum()))
        notes += texts
    channel = np.where(online, rng.choice([1, 2, 3], size=n, p=[0.55, 0.35, 0.10]), 0)
    walk_in = sales.customer < 0
    totals = sales.totals

    def fields(s: slice) -> list[Field]:
        return [
            cb.uuids(keys[s]),
            cb.choices(sales.store[s], list(params.STORE_SHARE)),
            cb.with_nulls(cb.uuids(customer_keys[np.maximum(sales.customer[s], 0)]), walk_in[s]),
            cb.timestamptz(sales.utc[s]),
            cb.choices(sales.kind[s], kinds),
            cb.choices(sales.payment[s], list(params.PAYMENT_METHODS)),
            cb.numeric(totals.subtotal[s]),
            cb.numeric(totals.tax[s]),
            cb.numeric(totals.discount[s]),
            cb.numeric(totals.total[s]),
            cb.choices(cashier[s], cashiers),
            cb.choices(register[s], registers),
            Field(np.hstack([prefix[sales.store[s]], ct.integers(sales.receipt[s], 7).data])),
            cb.choices(reason[s], notes),
            cb.choices(channel[s], _CHANNELS, prefix=b"\x01"),  # jsonb, version 1
            cb.timestamptz(sales.utc[s]),
        ]

    columns = (
        "transaction_id store_id customer_id transaction_date transaction_type payment_method"
        " subtotal tax_amount discount_amount total_amount cashier_id register_id"
        " receipt_number notes metadata created_at"
    )
    return Table("sales_transactions", tuple(columns.split()), n, fields, binary=True), keys


def items_table(
    rng: np.random.Generator, sales: Sales, transaction_keys: Bytes, product_keys: Bytes
) -> Table:
    """The sales_transaction_items table."""
    lines = sales.lines
    utc, store = sales.utc[sales.transaction], sales.store[sales.transaction]
    keys = ct.uuid7s(rng, utc * 1000)

    def fields(s: slice) -> list[Field]:
        return [
            cb.uuids(keys[s]),
            cb.uuids(transaction_keys[sales.transaction[s]]),
            cb.uuids(product_keys[sales.product[s]]),
            cb.int4(lines.quantity[s]),
            cb.numeric(lines.unit_price[s]),
            cb.numeric(lines.total_price[s]),
            cb.numeric(lines.discount[s]),
            cb.numeric(lines.tax[s]),
            cb.timestamptz(utc[s]),
            cb.choices(store[s], list(params.STORE_SHARE)),
        ]

    # store_id: the transaction's, given here, so the schema's trigger that
    # copies it when missing never has to look it up.
    columns = (
        "item_id transaction_id product_id quantity unit_price total_price discount_amount"
        " tax_amount created_at store_id"
    )
    return Table("sales_transaction_items", tuple(columns.split()), len(utc), fields, binary=True)
