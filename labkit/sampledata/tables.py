"""The generated data as the four tables' rows, ready for COPY.

This is where the parts meet: customers join no later than the day before
their first purchase, lifetime value is what they spent (sales minus returns),
stock levels follow each product's sales, and every row gets its key: a
UUIDv7 taken from the row's creation time, rows written in that order. Products
are the exception: their key is a name-based UUID (version 5) of the store and
SKU, so seeding again gives every product the key it had, and the embedding made
from its text stays valid (``load`` keeps it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import clock, params
from . import copybinary as cb
from . import copytext as ct
from .copytext import Bytes, Field, Ints
from .people import Customers, created_at
from .products import Products
from .sales import Sales


@dataclass(frozen=True)
class Table:
    """Rows of one table: ``fields(rows)`` formats a slice of them, for COPY's
    text format or, if ``binary``, its binary format."""

    name: str
    columns: tuple[str, ...]
    rows: int
    fields: Callable[[slice], list[Field]]
    binary: bool = False


def keys_in_time_order(rng: np.random.Generator, utc: Ints) -> tuple[Ints, Bytes, Bytes]:
    """Row order by creation time; the keys of the rows in that order; and the
    same keys by the rows' original index (for foreign keys)."""
    order = np.argsort(utc, kind="stable")
    keys = ct.uuid7s(rng, utc[order] * 1000)
    by_index = np.empty_like(keys)
    by_index[order] = keys
    return order, keys, by_index


#: The namespace of product keys: uuid5(PRODUCT_NAMESPACE, "store_id/sku").
PRODUCT_NAMESPACE = uuid.UUID("6f1d3c2e-5a4b-5c7d-9e8f-0a1b2c3d4e5f")


def product_keys(stores: list[str], skus: list[str]) -> Bytes:
    """Each product's key, 16 bytes: the same store and SKU give the same key
    in every seeding, whatever the seed or scale."""
    raw = b"".join(
        uuid.uuid5(PRODUCT_NAMESPACE, f"{store}/{sku}").bytes
        for store, sku in zip(stores, skus, strict=True)
    )
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(skus), 16).copy()


def _array_literal(words: list[str]) -> str:
    return (
        "{" + ",".join('"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in words) + "}"
    )


def customers_table(
    rng: np.random.Generator, people: Customers, sales: Sales
) -> tuple[Table, Bytes]:
    """The customers table, and every customer's key (16 bytes) by customer index."""
    n = len(people)
    buyer = sales.customer >= 0
    first_buy = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_buy, sales.customer[buyer], sales.local_day[buyer])
    since = np.minimum(people.since_day, first_buy - 1)
    created = created_at(rng, since)
    last_buy = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_buy, sales.customer[buyer], sales.utc[buyer])
    sign = np.array([{"sale": 1, "return": -1}.get(k, 0) for k in params.TRANSACTION_TYPES])
    spent = np.zeros(n, dtype=np.int64)
    np.add.at(spent, sales.customer[buyer], sign[sales.kind[buyer]] * sales.totals.total[buyer])
    order, keys, key_of = keys_in_time_order(rng, created)
    # Everything in row order once, so each chunk is a plain slice.
    birth, store, gender, tier = (
        a[order] for a in (people.birth_day, people.store, people.gender, people.tier)
    )
    since, created, spent = since[order], created[order], np.maximum(spent[order], 0)
    updated = np.maximum(created, last_buy[order])
    text = [
        [column[i] for i in order]
        for column in (people.first_name, people.last_name, people.email, people.phone)
    ]

    def fields(s: slice) -> list[Field]:
        return [
            cb.uuids(keys[s]),
            cb.choices(store[s], list(params.STORE_SHARE)),
            *(cb.texts(column[s]) for column in text),
            cb.with_nulls(cb.dates(np.maximum(birth[s], 0)), birth[s] < 0),
            cb.choices(gender[s], list(params.GENDERS)),
            cb.dates(since[s]),
            cb.choices(tier[s], list(params.LOYALTY)),
            cb.numeric(spent[s]),
            cb.timestamptz(created[s]),
            cb.timestamptz(updated[s]),
        ]

    columns = (
        "customer_id store_id first_name last_name email phone date_of_birth gender"
        " customer_since loyalty_tier total_lifetime_value created_at updated_at"
    )
    return Table("customers", tuple(columns.split()), n, fields, binary=True), key_of


def products_table(
    rng: np.random.Generator,
    goods: Products,
    sales: Sales,
    category_ids: list[int],
    first_day: int,
) -> tuple[Table, Bytes]:
    """The products table, and every product's key (16 bytes) by product index."""
    n = len(goods)
    sold = sales.kind[sales.transaction] == 0  # lines of sales, not returns or exchanges
    units = np.bincount(sales.product[sold], weights=sales.lines.quantity[sold], minlength=n)
    # Two weeks' demand plus half again as safety stock, and never below 5.
    reorder = np.maximum(5, np.ceil(units / 52 * 2 * 1.5)).astype(np.int64)
    maximum = reorder * 4
    stock = np.minimum(maximum, np.round(reorder * rng.lognormal(0.2, 0.45, size=n)))
    stock = np.where(rng.random(n) < 0.03, 0, stock).astype(np.int64)
    ratings = np.where(rng.random(n) < 0.08, 0, rng.negative_binomial(1, 1 / 40, size=n))
    average = np.round(100 + 400 * rng.beta(6, 1.6, size=n)).astype(np.int64)
    active, featured = rng.random(n) >= 0.05, rng.random(n) < 0.06
    day = first_day - 1 - rng.integers(0, 3 * 365, size=n)
    created = clock.to_utc(day * clock.DAY + rng.integers(9 * 3600, 21 * 3600, size=n))
    last_sold = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_sold, sales.product, sales.utc[sales.transaction])
    updated = np.maximum(created, last_sold)
    # The time-ordered keys are drawn and set aside, so that the random stream
    # (and with it every later table's keys) stays what it was.
    order, _, _ = keys_in_time_order(rng, created)
    pick = order.tolist()
    store_ids = list(params.STORE_SHARE)
    key_of = product_keys([store_ids[s] for s in goods.store.tolist()], goods.sku)
    keys = key_of[order]
    text = {
        name: [getattr(goods, name)[i] for i in pick]
        for name in (
            *("sku", "name", "description", "brand", "model", "color", "size"),
            *("supplier", "supplier_sku", "dimensions", "metadata"),
        )
    }
    tags = [_array_literal(goods.tags[i]) for i in pick]
    ids = np.asarray(category_ids)[goods.category[order]]

    def fields(s: slice) -> list[Field]:
        o = order[s]
        return [
            ct.uuids(keys[s]),
            ct.choices(goods.store[o], list(params.STORE_SHARE)),
            *(ct.texts(text[name][s]) for name in ("sku", "name", "description")),
            ct.integers(ids[s]),
            *(ct.texts(text[name][s]) for name in ("brand", "model", "color", "size")),
            ct.decimals(goods.weight_g[o], scale=3),
            ct.texts(text["dimensions"][s]),
            ct.decimals(goods.price[o]),
            ct.decimals(goods.cost[o]),
            ct.integers(stock[o]),
            ct.integers(np.maximum(2, reorder[o] // 2)),
            ct.integers(maximum[o]),
            ct.integers(reorder[o]),
            ct.texts(text["supplier"][s]),
            ct.texts(text["supplier_sku"][s]),
            ct.booleans(active[o]),
            ct.booleans(featured[o]),
            ct.with_nulls(ct.decimals(average[o]), ratings[o] == 0),
            ct.integers(ratings[o]),
            ct.texts(tags[s]),
            ct.texts(text["metadata"][s]),
            ct.timestamps(created[o]),
            ct.timestamps(updated[o]),
        ]

    columns = (
        "product_id store_id sku product_name product_description category_id brand model"
        " color size weight_kg dimensions_cm price cost current_stock minimum_stock"
        " maximum_stock reorder_point supplier_name supplier_sku is_active is_featured"
        " rating_average rating_count tags metadata created_at updated_at"
    )
    return Table("products", tuple(columns.split()), n, fields), key_of
