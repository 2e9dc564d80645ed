"""Search quality, measured: a labelled set of shopper questions and two scores.

>>> from labkit import quality
>>> frame = quality.evaluate(["seattle", "online"])     # one row per question, store and mode
>>> quality.summary(frame)                               # precision@5 and nDCG@10 per mode

The questions (``queries.toml``) are plain-language requests that mostly name no
product word, each labelled with the category a good answer belongs to and, where
it points at particular kinds of product, their types; and exact brand names,
where the words matter. Relevance is read from the catalog itself (category,
``metadata->>'type'``, brand), so the labels hold for any seed and scale.

Model codes (``AB-123K``) matter as much, but every seed draws its own, so they
cannot be written down: ``models(store)`` fills the ``[[model]]`` templates of
``queries.toml`` (the code alone, the brand and the code) with the codes of the
first ``MODELS_PER_CATEGORY`` active products of each category, by SKU, so the
same seed gives the same queries. Each one has one right answer, that product.

- precision@5: for a question, the share of the top 5 in its category (a shopper
  sees five results; a wrong category is a wrong answer); for a brand or a model
  code, the hits in the top 5 out of as many as the store has, at most 5 (for a
  code, one: found in the top 5 or not). A query with nothing to find in a store
  (a brand it does not carry) is left out there.
- nDCG@10: the top 10's graded gains (a question: 2 for a product of a named
  type, 1 for its category only; a brand or a code: 1), discounted by
  log2(rank + 1) and divided by the best possible ordering of the store's own
  products.

Questions, brands and products asked for by code each alternate between two
halves by position: ``tune`` (even) and ``held out`` (odd); both queries of one
product fall in the same half. Settings of the fusion are chosen on the first
half; the second half says whether they generalise.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import pandas as pd

from .. import tenancy

MODES = ("keyword", "semantic", "hybrid")
#: Products per category whose model codes ``models`` asks for, in each store.
MODELS_PER_CATEGORY = 2
_JUDGED = """
    SELECT p.product_id, c.category_name, p.metadata ->> 'type', p.brand, p.model
    FROM retail.products AS p
    LEFT JOIN retail.product_categories AS c USING (category_id)
    WHERE p.is_active
"""
# SKUs are drawn with the rest of a seed (store, category, number), so their order
# is the seed's, wherever the rows lie on disk.
_MODELLED = """
    SELECT brand, model
    FROM (SELECT p.sku, p.brand, p.model,
                 row_number() OVER (PARTITION BY p.category_id ORDER BY p.sku) AS n
          FROM retail.products AS p
          WHERE p.is_active AND p.model IS NOT NULL) AS first
    WHERE n <= %s
    ORDER BY sku
"""


@dataclass(frozen=True)
class Query:
    """One labelled search: ``kind`` is ``question``, ``brand`` or ``model``."""

    q: str
    kind: str
    split: str
    category: str | None = None
    types: tuple[str, ...] = ()
    brand: str | None = None
    model: str | None = None

    def gain(
        self, category: str | None, kind: str | None, brand: str | None, model: str | None = None
    ) -> int:
        """2: exactly what was asked for; 1: close (the category, or one of brand
        and type), or the product of a model code; 0: wrong."""
        if self.kind == "model":
            return int(self.hit(category, kind, brand, model))
        if self.kind == "brand":
            if not self.types:
                return int(brand == self.brand)
            return (brand == self.brand) + (kind in self.types)
        if kind in self.types:
            return 2
        return int(category == self.category)

    def hit(
        self, category: str | None, kind: str | None, brand: str | None, model: str | None = None
    ) -> bool:
        """A right answer in the top 5: the category for a question, the brand
        (and type, if named) for a brand, the code (and brand, if named) for a model."""
        if self.kind == "model":
            return model == self.model and (self.brand is None or brand == self.brand)
        if self.kind == "brand":
            return brand == self.brand and (not self.types or kind in self.types)
        return category == self.category


def _data() -> dict[str, Any]:
    return tomllib.loads((files("labkit.quality") / "queries.toml").read_text(encoding="utf-8"))


def load() -> list[Query]:
    """The labelled set, questions first, each with its half (``tune`` / ``held out``).
    The model queries depend on the catalog: ``models(store)``."""
    data = _data()
    found = []
    for kind in ("question", "brand"):
        for index, entry in enumerate(data[kind]):
            split = "tune" if index % 2 == 0 else "held out"
            found.append(
                Query(
                    entry["q"],
                    kind,
                    split,
                    entry.get("category"),
                    tuple(entry.get("types", ())),
                    entry.get("brand"),
                )
            )
    return found


def models(store: str, per_category: int = MODELS_PER_CATEGORY) -> list[Query]:
    """The ``[[model]]`` templates filled in with the codes of ``store``'s first
    ``per_category`` active products of each category by SKU: the same for the same
    seed."""
    templates = [entry["q"] for entry in _data()["model"]]
    with tenancy.as_store(store) as conn:
        picked = conn.execute(_MODELLED, (per_category,)).fetchall()
    found = []
    for index, (brand, model) in enumerate(picked):
        split = "tune" if index % 2 == 0 else "held out"
        for template in templates:
            with_brand = "{brand}" in template
            query = template.format(brand=brand, model=model)
            found.append(
                Query(query, "model", split, brand=brand if with_brand else None, model=model)
            )
    return found


def _judgements(store: str) -> dict[Any, tuple[str | None, ...]]:
    with tenancy.as_store(store) as conn:
        return {pid: tuple(rest) for pid, *rest in conn.execute(_JUDGED)}


def _dcg(gains: Sequence[int]) -> float:
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def score(query: Query, found: Sequence[Any], judged: dict[Any, tuple]) -> dict[str, float]:
    """precision@5 and nDCG@10 of ``found`` (product ids, best first) for ``query``."""
    top = [judged[pid] for pid in found[:10]]
    gains = [query.gain(*row) for row in top]
    ideal = sorted((query.gain(*row) for row in judged.values()), reverse=True)[:10]
    relevant = sum(query.hit(*row) for row in judged.values())
    hits = sum(query.hit(*row) for row in top[:5])
    if not relevant:  # nothing to find in this store: the query says nothing here
        return {"p5": math.nan, "ndcg10": math.nan, "relevant": 0}
    return {
        "p5": hits / min(5, relevant),
        "ndcg10": _dcg(gains) / _dcg(ideal),
        "relevant": relevant,
    }


def evaluate(
    stores: Sequence[str],
    modes: Sequence[str] = MODES,
    *,
    queries: Sequence[Query] | None = None,
    search: Callable[..., pd.DataFrame] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """One row per query, store and mode: its precision@5 and nDCG@10.
    ``queries`` defaults to the labelled set and each store's ``models``;
    ``search`` defaults to ``labkit.search``; ``options`` go to it."""
    if search is None:
        from ..product_search import search
    labelled = load() if queries is None else []
    rows = []
    for store in stores:
        judged = _judgements(store)
        chosen = queries if queries is not None else [*labelled, *models(store)]
        for query in chosen:
            for mode in modes:
                found = search(query.q, store, 10, mode=mode, **options)["product_id"].tolist()
                row = {"q": query.q, "kind": query.kind, "split": query.split, "store": store}
                rows.append(row | {"mode": mode, **score(query, found, judged)})
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean precision@5 and nDCG@10 per kind of query, half and mode."""
    table = frame.pivot_table(
        index=["kind", "split"], columns="mode", values=["p5", "ndcg10"], aggfunc="mean"
    )
    return table.reindex(columns=[*MODES], level=1).round(3)
