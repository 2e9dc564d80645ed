"""Products: every store's catalogue, built from the product types in ``catalog.toml``.

A product is a type (an insulated cooler) made concrete: a brand, a variant, a
material, maybe a size and a color, and three of the type's features. Its
description is a sentence about what it is made of, what it is for and what it
does, e.g. "A rotomolded polyethylene insulated cooler that keeps drinks and
food ice-cold for days on camping trips, tailgates and beach outings. Features
a leak-proof drain plug, non-slip feet and built-in bottle openers." That text
is what embeddings are made from in the vector-search notebook.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from . import catalog, params
from .copytext import Ints

_FEATURES = 3


@dataclass
class Products:
    """One entry per product, store by store."""

    store: Ints  # index into params.STORE_SHARE
    category: Ints  # index into catalog.categories()
    sku: list[str]
    name: list[str]
    description: list[str]
    brand: list[str]
    model: list[str]
    color: list[str | None]
    size: list[str | None]
    supplier: list[str]
    supplier_sku: list[str]
    dimensions: list[str]
    tags: list[list[str]]
    metadata: list[str]  # JSON
    weight_g: Ints
    price: Ints  # cents
    cost: Ints  # cents
    popularity: np.ndarray  # relative chance of being picked for a basket line

    def __len__(self) -> int:
        return len(self.store)


def _initials(words: str) -> str:
    return "".join(w[0] for w in re.findall(r"[A-Za-z]+", words)).upper()


def _article(material: str, plural: bool) -> str:
    """'A hardcover', 'An 800-fill goose', or no article for 'jeans'. (Good
    enough for the catalog's words; it would say "an universal".)"""
    if plural:
        return material[0].upper() + material[1:]
    return ("An " if material[0].lower() in "aeiou8" else "A ") + material


def generate(rng: np.random.Generator, n: int) -> Products:
    """``n`` products: split over stores by their share, then over categories by
    theirs, every store carrying every category."""
    cats = catalog.categories()
    per_store = params.split(n, np.array(list(params.STORE_SHARE.values())))
    shares = np.array([c.share for c in cats])
    pairs = [
        (s, c)
        for s, count in enumerate(per_store.tolist())
        for c, k in enumerate(params.split(count, shares, least=1).tolist())
        for _ in range(k)
    ]
    store = np.array([s for s, _ in pairs], dtype=np.int64)
    category = np.array([c for _, c in pairs], dtype=np.int64)
    # One column per choice: type, brand, variant, material, size, color,
    # supplier, model letter, price, weight.
    u = rng.random((n, 10))
    feature_keys = rng.random((n, max(len(t.features) for c in cats for t in c.types)))
    numbers = rng.integers(100, 1000, size=(n, 2))
    columns: dict[str, list] = {key: [] for key in _TEXT_COLUMNS}
    price = np.zeros(n, dtype=np.int64)
    weight = np.zeros(n, dtype=np.int64)
    seq = dict.fromkeys(range(len(params.STORE_SHARE)), 0)
    codes = list(params.STORE_CODE.values())
    taken: dict[int, set[str]] = {s: set() for s in seq}  # product names per store
    for i, (s, c) in enumerate(pairs):
        cat = cats[c]
        kind = cat.types[int(u[i, 0] * len(cat.types))]
        variant = kind.variants[int(u[i, 2] * len(kind.variants))]
        material = kind.materials[int(u[i, 3] * len(kind.materials))]
        model = f"{_initials(cat.brands[int(u[i, 1] * len(cat.brands))])}-{numbers[i, 0]}"
        model += "ABCDEFGHJK"[int(u[i, 7] * 10)]
        brand, size, color, name = _unique_name(cat, kind, variant, u[i], taken[s], model)
        supplier = cat.suppliers[int(u[i, 6] * len(cat.suppliers))]
        features = [kind.features[j] for j in np.argsort(feature_keys[i, : len(kind.features)])]
        features = features[:_FEATURES]
        seq[s] += 1
        row = {
            "sku": f"{codes[s]}-{cat.code}-{seq[s]:05d}",
            "name": name,
            "description": _describe(kind, material, variant, features, size, color),
            "brand": brand,
            "model": model,
            "color": color,
            "size": size,
            "supplier": supplier,
            "supplier_sku": f"{_initials(supplier)}-{numbers[i, 1]}{i % 1000:03d}",
            "tags": list(kind.tags),
            "metadata": json.dumps(
                {
                    "type": kind.noun,
                    "variant": variant or None,
                    "material": material,
                    "features": features,
                },
                ensure_ascii=False,
            ),
        }
        for key, value in row.items():
            columns[key].append(value)
        low, high = kind.price
        dollars = low * (high / low) ** u[i, 8]  # log-uniform: as many $20s as $200s
        price[i] = max(1, round(dollars)) * 100 - 1  # $24.99, not $25.00
        weight[i] = round(1000 * (kind.weight[0] + u[i, 9] * (kind.weight[1] - kind.weight[0])))
        side = (weight[i] * 4) ** (1 / 3)  # rough centimetres of a box of that weight
        columns["dimensions"].append(
            " x ".join(str(max(1, round(side * f))) for f in (1.6, 1, 0.6))
        )
    return Products(
        store=store,
        category=category,
        **columns,
        weight_g=weight,
        price=price,
        cost=(price * rng.uniform(0.45, 0.70, size=n)).round().astype(np.int64),
        popularity=rng.lognormal(0.0, 1.0, size=n),
    )


def _unique_name(
    cat: catalog.Category,
    kind: catalog.ProductType,
    variant: str,
    u: np.ndarray,
    taken: set[str],
    model: str,
) -> tuple[str, str | None, str | None, str]:
    """Brand, size, color and a product name that no other product of the store has.

    The drawn ones first; if the store has a product of that name already, the
    next colors, then the next sizes, in the catalog's order, so the result depends
    only on the draw (the same seed gives the same names). When those are taken
    too, the model number tells the two apart.
    """
    brand = cat.brands[int(u[1] * len(cat.brands))]
    sizes: tuple[str | None, ...] = kind.sizes or (None,)
    colors: tuple[str | None, ...] = kind.colors or (None,)
    size_at, color_at = int(u[4] * len(sizes)), int(u[5] * len(colors))
    choices = [(sizes[size_at], colors[(color_at + k) % len(colors)]) for k in range(len(colors))]
    choices += [(sizes[(size_at + z) % len(sizes)], colors[color_at]) for z in range(1, len(sizes))]
    base = " ".join(kind.name.format(brand=brand, variant=variant, noun=kind.noun).split())
    for size, color in choices:
        extras = ", ".join(x for x in (size, color) if x)
        name = f"{base}, {extras}" if extras else base
        if name not in taken:
            taken.add(name)
            return brand, size, color, name
    size, color = choices[0]
    name = ", ".join(x for x in (base, size, color, f"model {model}") if x)
    while name in taken:  # the same model number twice: rare, and still told apart
        name += "+"
    taken.add(name)
    return brand, size, color, name


_TEXT_COLUMNS = (
    "sku",
    "name",
    "description",
    "brand",
    "model",
    "color",
    "size",
    "supplier",
    "supplier_sku",
    "dimensions",
    "tags",
    "metadata",
)


def _describe(
    kind: catalog.ProductType,
    material: str,
    variant: str,
    features: list[str],
    size: str | None,
    color: str | None,
) -> str:
    text = (
        f"{_article(material, kind.plural)} {kind.noun_in_text} {kind.use.format(variant=variant)}. "
        f"Features {features[0]}, {features[1]} and {features[2]}."
    )
    if size and color:
        return f"{text} Shown in {color}, size {size}."
    if color:
        return f"{text} Shown in {color}."
    return f"{text} Size {size}." if size else text
