"""How much sample data to make, and the distributions it follows.

The shares come from SPEC.md where it gives them (loyalty tiers, payment
methods, transaction types, items per basket, discounts, tax); the rest (store
sizes, quantities, hours, weekdays, months) are chosen to look like a retailer
in the Seattle area, and written here so a notebook can show and test them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LabError


@dataclass(frozen=True)
class Counts:
    """Rows to make: customers, products and transactions (items follow the baskets)."""

    customers: int
    products: int
    transactions: int


SCALES: dict[str, Counts] = {
    "tiny": Counts(customers=100, products=56, transactions=200),  # a few dozen per store
    "lab": Counts(customers=2_000, products=500, transactions=5_000),  # the lab text's numbers
    "large": Counts(customers=200_000, products=20_000, transactions=1_000_000),
}
DEFAULT_SCALE = "lab"
DEFAULT_SEED = 42

#: Share of customers, products and transactions per store.
STORE_SHARE: dict[str, float] = {"seattle": 0.30, "redmond": 0.20, "bellevue": 0.18, "online": 0.32}
STORE_CODE: dict[str, str] = {
    "seattle": "SEA",
    "redmond": "RED",
    "bellevue": "BEL",
    "online": "WEB",
}
#: Telephone area codes: the stores' own, and a spread of others for the online store.
AREA_CODES: dict[str, tuple[int, ...]] = {
    "seattle": (206,),
    "redmond": (425,),
    "bellevue": (425,),
    "online": (206, 253, 360, 425, 503, 509, 971, 208, 415, 312, 212, 512, 303, 617, 702),
}
#: The stores keep Pacific time; dates are drawn on its wall clock.
TIMEZONE = "America/Los_Angeles"
DAYS = 365

#: Faker locales that names come from, and their shares.
LOCALES: dict[str, float] = {"en_US": 0.82, "es_MX": 0.10, "en_IN": 0.08}
GENDERS: dict[str | None, float] = {"female": 0.49, "male": 0.47, "non-binary": 0.01, None: 0.03}
LOYALTY: dict[str, float] = {"bronze": 0.50, "silver": 0.30, "gold": 0.15, "platinum": 0.05}
#: How often a customer of each tier shops, relative to bronze.
LOYALTY_VISITS: dict[str, float] = {"bronze": 1.0, "silver": 1.6, "gold": 2.5, "platinum": 4.0}

TRANSACTION_TYPES: dict[str, float] = {"sale": 0.90, "return": 0.07, "exchange": 0.03}
#: Over all stores. The online store takes no cash, so the shops take more of it.
PAYMENT_METHODS: dict[str, float] = {
    "credit_card": 0.45,
    "debit_card": 0.25,
    "cash": 0.20,
    "digital_wallet": 0.10,
}
ONLINE_PAYMENT_METHODS: dict[str, float] = {
    "credit_card": 0.55,
    "debit_card": 0.25,
    "cash": 0.0,
    "digital_wallet": 0.20,
}
#: Share of in-store sales to shoppers who are not registered customers.
WALK_IN_SHARE = 0.10
ITEMS_PER_BASKET: dict[int, float] = {1: 0.40, 2: 0.30, 3: 0.20, 4: 0.07, 5: 0.03}
QUANTITY: dict[int, float] = {1: 0.70, 2: 0.20, 3: 0.10}
DISCOUNTED_LINES = 0.20
DISCOUNT_PERCENT = (5, 25)  # whole percents, both ends included
TAX_PERCENT = 8

#: Shoppers by weekday, Monday first, and by month, January first (the holidays
#: peak). Categories add a season of their own (catalog.toml).
WEEKDAY: tuple[float, ...] = (0.85, 0.85, 0.90, 0.95, 1.10, 1.35, 1.15)
MONTH: tuple[float, ...] = (0.85, 0.85, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 1.0, 1.2, 1.45)
BLACK_FRIDAY = 2.5  # the day after the fourth Thursday of November
#: Shops open 9:00 to 21:00; online orders come at any hour, mostly evenings.
SHOP_HOURS: dict[int, float] = dict(
    zip(range(9, 21), (3, 4, 6, 8, 9, 7, 6, 7, 9, 10, 8, 5), strict=True)
)
ONLINE_HOURS: dict[int, float] = dict(
    enumerate((2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 6, 6, 6, 6, 7, 8, 9, 10, 9, 7, 4))
)


def counts(
    scale: str = DEFAULT_SCALE,
    *,
    customers: int | None = None,
    products: int | None = None,
    transactions: int | None = None,
) -> Counts:
    """The counts of a named scale, with any of them overridden; checked."""
    if scale not in SCALES:
        raise LabError(f"Unknown scale {scale!r}", f"Pick one of: {', '.join(SCALES)}")
    base = SCALES[scale]
    chosen = Counts(
        customers=base.customers if customers is None else customers,
        products=base.products if products is None else products,
        transactions=base.transactions if transactions is None else transactions,
    )
    stores, categories = len(STORE_SHARE), 7
    minimum = {"customers": stores, "products": stores * categories, "transactions": 0}
    why = {
        "customers": "one per store",
        "products": "one per category in every store",
        "transactions": "none is fine",
    }
    for name, least in minimum.items():
        value = getattr(chosen, name)
        if not isinstance(value, int) or value < least:
            raise LabError(
                f"{name} must be a whole number of at least {least} ({why[name]}), not {value!r}",
                f"Pass --{name} {least} or more, or pick a scale: {', '.join(SCALES)}",
            )
    return chosen


def check_seed(seed: int) -> int:
    if not isinstance(seed, int) or seed < 0:
        raise LabError(
            f"The seed must be a whole number of 0 or more, not {seed!r}", "Pass e.g. --seed 42"
        )
    return seed


def split(total: int, shares: np.ndarray, least: int = 0) -> np.ndarray:
    """Whole counts in proportion to ``shares`` that add up to ``total``, each at
    least ``least`` (largest remainders, so rounding never loses a row)."""
    shares = np.asarray(shares, dtype=float) / np.sum(shares)
    spare = total - least * len(shares)
    exact = spare * shares
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: spare - counts.sum()]] += 1
    return counts + least
