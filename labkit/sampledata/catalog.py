"""The product types of every category, read from ``catalog.toml``.

The file is data, so a new product type is a few lines of TOML; this module
reads it into typed records and checks it, so a typo fails at load, not as an
odd product in the notebook.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .. import contract

CATALOG_FILE = Path(__file__).with_name("catalog.toml")


@dataclass(frozen=True)
class ProductType:
    noun: str
    materials: tuple[str, ...]
    use: str
    features: tuple[str, ...]
    price: tuple[float, float]
    weight: tuple[float, float]
    tags: tuple[str, ...]
    variants: tuple[str, ...] = ("",)
    sizes: tuple[str, ...] = ()
    colors: tuple[str, ...] = ()
    plural: bool = False
    text: str = ""  # the noun inside a sentence, when lower-casing it would be wrong
    name: str = "{brand} {variant} {noun}"  # "{variant} ({noun})" for titles

    @functools.cached_property
    def noun_in_text(self) -> str:
        """'4K Smart TV' -> '4K smart TV': acronyms and model words keep their case."""
        if self.text:
            return self.text

        def lower(word: str) -> str:
            keep = (
                word.isupper()
                or any(c.isdigit() for c in word)
                or any(c.isupper() for c in word[1:])
            )
            return word if keep else word.lower()

        return " ".join("-".join(map(lower, word.split("-"))) for word in self.noun.split())


@dataclass(frozen=True)
class Category:
    name: str
    code: str
    share: float
    season: tuple[float, ...]
    brands: tuple[str, ...]
    suppliers: tuple[str, ...]
    types: tuple[ProductType, ...]


def _build(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{CATALOG_FILE.name}, {where}: unknown keys {sorted(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


@functools.cache
def categories() -> tuple[Category, ...]:
    """Every category with its product types, in the order of ``contract.CATEGORIES``."""
    data = tomllib.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    found: list[Category] = []
    for raw in data["category"]:
        types = tuple(
            _build(ProductType, t, f"{raw['name']} / {t.get('noun')}") for t in raw.pop("types")
        )
        category: Category = _build(Category, {**raw, "types": types}, raw["name"])
        found.append(category)
    names = [c.name for c in found]
    if sorted(names) != sorted(contract.CATEGORIES):
        raise ValueError(f"{CATALOG_FILE.name} has categories {names}, not {contract.CATEGORIES}")
    if abs(sum(c.share for c in found) - 1) > 1e-9:
        raise ValueError(f"{CATALOG_FILE.name}: category shares must add up to 1")
    for category in found:
        if len(category.season) != 12:
            raise ValueError(f"{category.name}: season needs 12 months")
        for t in category.types:
            if len(t.features) < 3 or t.price[0] > t.price[1] or t.weight[0] > t.weight[1]:
                raise ValueError(f"{category.name} / {t.noun}: 3+ features, ranges low to high")
    order = {name: i for i, name in enumerate(contract.CATEGORIES)}
    return tuple(sorted(found, key=lambda c: order[c.name]))
