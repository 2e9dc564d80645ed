"""Customers: names from Faker's locale data, drawn with numpy.

Faker's ``en_US``, ``es_MX`` and ``en_IN`` person providers hold first names
(by gender) and last names, with US name frequencies for ``en_US``. Drawing
from those lists with the seeded numpy generator gives the same people for the
same seed, thousands of times faster than one ``Faker().name()`` call per row.
Emails are ``first.last<number>@example.<tld>``: the number is unique, so the
emails are, and the domains are reserved for examples (RFC 2606).
"""

from __future__ import annotations

import functools
import importlib
import unicodedata
from dataclasses import dataclass

import numpy as np

from . import clock, params
from .copytext import Ints

_DOMAINS = ("example.com", "example.net", "example.org")


@dataclass
class Customers:
    """One entry per customer; ``tables`` orders them by when they joined."""

    store: Ints  # index into params.STORE_SHARE
    first_name: list[str]
    last_name: list[str]
    email: list[str]
    phone: list[str]
    gender: Ints  # index into params.GENDERS
    birth_day: Ints  # days since 1970; -1 when not given
    since_day: Ints  # days since 1970 (may move earlier to precede a first purchase)
    tier: Ints  # index into params.LOYALTY

    def __len__(self) -> int:
        return len(self.store)


def _names(
    locale: str,
) -> tuple[list[str], np.ndarray, list[str], np.ndarray, list[str], np.ndarray]:
    """Female first names, male first names and last names of a Faker locale,
    each with its probabilities (equal where the locale gives none)."""
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    out: list[object] = []
    for attribute in ("first_names_female", "first_names_male", "last_names"):
        names = getattr(provider, attribute)
        weights = np.array(list(names.values()) if hasattr(names, "values") else [1.0] * len(names))
        out += [list(names), weights / weights.sum()]
    return tuple(out)  # type: ignore[return-value]


@functools.cache
def _ascii(name: str) -> str:
    """'José Núñez' -> 'josenunez': for email addresses."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def generate(rng: np.random.Generator, n: int, first_day: int) -> Customers:
    """``n`` customers spread over the stores, who joined in the six years before
    the end of the sales window that starts on ``first_day``."""
    # Exact shares, every store with a customer, in random order.
    per_store = params.split(n, np.array(list(params.STORE_SHARE.values())), least=1)
    store = rng.permutation(np.repeat(np.arange(len(per_store)), per_store))
    gender = rng.choice(len(params.GENDERS), size=n, p=list(params.GENDERS.values()))
    genders = list(params.GENDERS)
    # Names for "non-binary" or "not given" come from either list.
    female = (gender == genders.index("female")) | (
        (gender != genders.index("male")) & (rng.random(n) < 0.5)
    )
    locale = rng.choice(len(params.LOCALES), size=n, p=list(params.LOCALES.values()))
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    for i, code in enumerate(params.LOCALES):
        females, pf, males, pm, lasts, pl = _names(code)
        mine = locale == i
        for chosen, names, p in ((mine & female, females, pf), (mine & ~female, males, pm)):
            drawn = rng.choice(len(names), size=int(chosen.sum()), p=p)
            first[chosen] = np.asarray(names, dtype=object)[drawn]
        drawn = rng.choice(len(lasts), size=int(mine.sum()), p=pl)
        last[mine] = np.asarray(lasts, dtype=object)[drawn]
    number = rng.permutation(n) + 1
    domain = rng.integers(0, len(_DOMAINS), size=n)
    email = [
        f"{_ascii(f)}.{_ascii(la)}{k}@{_DOMAINS[d]}"
        for f, la, k, d in zip(first, last, number.tolist(), domain.tolist(), strict=True)
    ]
    end_day = first_day + params.DAYS
    age_days = (np.clip(rng.normal(42, 15, size=n), 18, 88) * 365.25).astype(np.int64)
    birth = np.where(rng.random(n) < 0.08, -1, end_day - age_days)
    return Customers(
        store=store,
        first_name=first.tolist(),
        last_name=last.tolist(),
        email=email,
        phone=_phones(rng, store),
        gender=gender,
        birth_day=birth,
        since_day=end_day - 1 - rng.integers(0, params.DAYS * 6, size=n),
        tier=rng.choice(len(params.LOYALTY), size=n, p=list(params.LOYALTY.values())),
    )


def _phones(rng: np.random.Generator, store: Ints) -> list[str]:
    """(206) 555-0142 style; 555 numbers are the ones set aside for fiction."""
    area = np.zeros(len(store), dtype=np.int64)
    for i, name in enumerate(params.STORE_SHARE):
        mine = store == i
        area[mine] = rng.choice(params.AREA_CODES[name], size=int(mine.sum()))
    line = rng.integers(0, 10_000, size=len(store))
    return [f"({a}) 555-{x:04d}" for a, x in zip(area.tolist(), line.tolist(), strict=True)]


def created_at(rng: np.random.Generator, since_day: Ints) -> Ints:
    """UTC seconds: the day a customer joined, at a shop hour."""
    hour = rng.integers(9, 21, size=len(since_day))
    return clock.to_utc(
        since_day * clock.DAY + hour * 3600 + rng.integers(0, 3600, size=len(since_day))
    )
