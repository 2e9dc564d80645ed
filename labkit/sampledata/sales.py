"""Transactions and their line items, drawn for all rows at once with numpy.

A transaction gets a store, a wall-clock time (weekday, month and hour shaped),
a type, a payment method and a customer of that store (or none: a walk-in at a
shop). Its basket holds 1 to 5 distinct products of that store; each line picks
a category by the month's mix (coolers in July, wiper blades in November) and a
product of that category by popularity. Money follows ``money``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog, clock, money, params
from .copytext import Ints
from .people import Customers
from .products import Products


@dataclass
class Sales:
    """Transactions in time order, then their lines, grouped by transaction."""

    store: Ints
    customer: Ints  # index into Customers; -1 for a walk-in
    utc: Ints  # seconds since 1970
    local_day: Ints  # days since 1970 on the stores' wall clock
    kind: Ints  # index into params.TRANSACTION_TYPES
    payment: Ints  # index into params.PAYMENT_METHODS
    receipt: Ints  # 1, 2, 3... per store, in time order
    totals: money.Totals
    transaction: Ints  # per line: index of its transaction
    product: Ints  # per line: index into Products
    lines: money.Lines

    def __len__(self) -> int:
        return len(self.store)


def pick_within(
    rng: np.random.Generator, draw_group: Ints, group: Ints, weights: np.ndarray
) -> Ints:
    """For each draw, one candidate of the draw's group, chosen by weight.

    ``group[i]`` and ``weights[i]`` describe candidate i. All draws are made by
    one ``searchsorted``: candidates sorted by group, cumulative weights scaled
    to (g, g + 1] for group g, and draw k looks up ``draw_group[k] + u``.
    """
    order = np.argsort(group, kind="stable")
    g = group[order]
    assert np.isin(draw_group, g).all(), "a draw asks for a group with no candidates"
    cum = np.cumsum(weights[order])
    start = np.searchsorted(g, g, side="left")
    end = np.searchsorted(g, g, side="right") - 1
    before = np.where(start > 0, cum[start - 1], 0.0)
    key = g + (cum - before) / (cum[end] - before)
    key[end] = g[end] + 1.0  # exactly, so rounding never spills into the next group
    found = np.searchsorted(key, draw_group + rng.random(len(draw_group)), side="right")
    return order[found]


def _payment_weights(online: bool) -> np.ndarray:
    """Online takes no cash; shops take the rest so that all stores together
    follow ``params.PAYMENT_METHODS``."""
    overall = np.array(list(params.PAYMENT_METHODS.values()))
    web = np.array(list(params.ONLINE_PAYMENT_METHODS.values()))
    if online:
        return web
    share = params.STORE_SHARE["online"]
    shops = (overall - share * web) / (1 - share)
    assert (shops >= 0).all(), "online payment shares exceed the overall ones"
    return shops / shops.sum()


def _choice(rng: np.random.Generator, weights: dict, n: int) -> Ints:
    p = np.array(list(weights.values()), dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def generate(
    rng: np.random.Generator, n: int, customers: Customers, products: Products, first_day: int
) -> Sales:
    online_store = list(params.STORE_SHARE).index("online")
    store = _choice(rng, params.STORE_SHARE, n)
    local = clock.draw_times(rng, store == online_store, first_day, first_day + params.DAYS)
    utc = clock.to_utc(local)
    order = np.argsort(utc, kind="stable")
    store, local, utc = store[order], local[order], utc[order]
    online = store == online_store
    payment = np.where(
        online,
        rng.choice(len(params.PAYMENT_METHODS), size=n, p=_payment_weights(True)),
        rng.choice(len(params.PAYMENT_METHODS), size=n, p=_payment_weights(False)),
    )
    visits = np.array(list(params.LOYALTY_VISITS.values()))[customers.tier]
    customer = pick_within(rng, store, customers.store, visits)
    customer[~online & (rng.random(n) < params.WALK_IN_SHARE)] = -1
    kind = _choice(rng, params.TRANSACTION_TYPES, n)
    basket = np.array(list(params.ITEMS_PER_BASKET))[_choice(rng, params.ITEMS_PER_BASKET, n)]
    transaction = np.repeat(np.arange(n), basket)
    product = _basket_products(rng, store[transaction], clock.months(local)[transaction], products)
    product = _distinct(rng, transaction, product, store[transaction], products)
    quantity = np.array(list(params.QUANTITY))[_choice(rng, params.QUANTITY, len(product))]
    low, high = params.DISCOUNT_PERCENT
    percent = np.where(
        rng.random(len(product)) < params.DISCOUNTED_LINES,
        rng.integers(low, high + 1, size=len(product)),
        0,
    )
    lines = money.lines(quantity, products.price[product], percent, params.TAX_PERCENT)
    receipt = np.zeros(n, dtype=np.int64)
    for s in range(len(params.STORE_SHARE)):
        mine = store == s
        receipt[mine] = np.arange(1, int(mine.sum()) + 1)
    first_line = (np.cumsum(basket) - basket).astype(np.int64)
    return Sales(
        store=store,
        customer=customer,
        utc=utc,
        local_day=local // clock.DAY,
        kind=kind,
        payment=payment,
        receipt=receipt,
        totals=money.totals(lines, first_line),
        transaction=transaction,
        product=product,
        lines=lines,
    )


def _basket_products(
    rng: np.random.Generator, store: Ints, month: Ints, products: Products
) -> Ints:
    """A category by the month's mix, then a product of it in the store by popularity."""
    cats = catalog.categories()
    # Candidates are (month, category) pairs, weighted by share x season.
    mix = np.array([c.share * c.season[m] for m in range(12) for c in cats])
    month_of = np.repeat(np.arange(12), len(cats))
    category = pick_within(rng, month, month_of, mix) % len(cats)
    group = products.store * len(cats) + products.category
    return pick_within(rng, store * len(cats) + category, group, products.popularity)


def _distinct(
    rng: np.random.Generator, transaction: Ints, product: Ints, store: Ints, products: Products
) -> Ints:
    """Draw again for a product already in its basket: first within the same
    category (a few rounds), then anywhere in the store, until none repeats."""
    cats = len(catalog.categories())
    for attempt in range(100):
        key = transaction * len(products) + product
        order = np.argsort(key, kind="stable")
        repeated = order[1:][key[order][1:] == key[order][:-1]]
        if repeated.size == 0:
            return product
        if attempt < 5:
            group = products.store * cats + products.category
            product[repeated] = pick_within(
                rng, group[product[repeated]], group, products.popularity
            )
        else:
            product[repeated] = pick_within(
                rng, store[repeated], products.store, np.ones(len(products))
            )
    raise RuntimeError("could not fill baskets with distinct products")
