"""Synthetic product embeddings with the structure of real ones, for benchmarks.

Embedding 100,000 products with the offline model takes most of an hour on two
cores, and uniform random vectors are a poor stand-in: in high dimensions they
are all nearly perpendicular, every neighbour is about as far as every other,
and approximate indexes look worse than they are on real data.

A real catalog's embeddings are built from what its texts say. The lab's
sample products are a type (an insulated cooler) in a category, with a
variant, a material, a color and three of the type's features, and the
embedding of such a text lies close to the sum of what each part contributes.
This generator does the same with random directions: each category, type,
variant, material, color and feature gets a direction, every text shares a
common one, and a product is the weighted sum of its parts plus a little noise,
scaled to length 1. The weights are fitted to all-MiniLM-L6-v2 on the sample
catalog (``similarity_profile`` compares the two): two products score 0.13
across categories, 0.31 within a category, 0.69 within a type, and 0.82 with
their nearest neighbour, on average. A query names a type and sometimes a
feature, with more noise, so that its best match scores about 0.5, as typed
questions do against the real catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .base import Vectors, normalize

Ints = NDArray[np.int64]
#: Squared weights (each part's share of a product vector's length).
SHARES = {
    "common": 0.127,
    "category": 0.181,
    "type": 0.25,
    "variant": 0.10,
    "material": 0.08,
    "color": 0.04,
    "features": 0.15,
    "noise": 0.072,
}
#: How many of each a product type has, as in the sample catalog; 3 features are picked.
CHOICES = {"variant": 4, "material": 3, "color": 4, "features": 6}
QUERY_NOISE = 0.8  # a query's noise share (its parts as for a product, without details)


@dataclass(frozen=True)
class Catalog:
    """Synthetic product vectors, with the category and type of each."""

    vectors: Vectors
    category: Ints
    kind: Ints  # the product type, 0 .. types - 1
    parts: dict[str, Vectors]  # the directions products were built from
    types_per_category: int


def _unit(rng: np.random.Generator, n: int, dims: int) -> Vectors:
    return normalize(rng.standard_normal((n, dims)).astype(np.float32))


def catalog(
    n: int, dims: int = 384, *, categories: int = 7, types_per_category: int = 40, seed: int = 0
) -> Catalog:
    """``n`` unit vectors built from parts like the sample catalog's (seeded)."""
    rng = np.random.default_rng(seed)
    kinds = categories * types_per_category
    parts = {"common": _unit(rng, 1, dims), "category": _unit(rng, categories, dims)}
    parts["type"] = _unit(rng, kinds, dims)
    for part, count in CHOICES.items():  # per type: its own variants, materials, ...
        parts[part] = _unit(rng, kinds * count, dims)
    kind = rng.integers(0, kinds, size=n)
    category = kind // types_per_category
    w = {part: np.sqrt(share) for part, share in SHARES.items()}
    vectors = w["common"] * parts["common"] + w["category"] * parts["category"][category]
    vectors = vectors + w["type"] * parts["type"][kind]
    for part in ("variant", "material", "color"):
        pick = kind * CHOICES[part] + rng.integers(0, CHOICES[part], size=n)
        vectors += w[part] * parts[part][pick]
    features = np.argsort(rng.random((n, CHOICES["features"])), axis=1)[:, :3]
    chosen = parts["features"][kind[:, None] * CHOICES["features"] + features].sum(axis=1)
    vectors += w["features"] * normalize(chosen)
    vectors += w["noise"] * _unit(rng, n, dims)
    return Catalog(normalize(vectors), category, kind, parts, types_per_category)


def queries(data: Catalog, m: int, *, seed: int = 1) -> Vectors:
    """``m`` queries, each for a random product type of ``data``, half of them
    also naming one of its features."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, len(data.parts["type"]), size=m)
    category = kind // data.types_per_category
    w = {part: np.sqrt(share) for part, share in SHARES.items()}
    vectors = w["common"] * data.parts["common"] + w["category"] * data.parts["category"][category]
    vectors = vectors + w["type"] * data.parts["type"][kind]
    feature = kind * CHOICES["features"] + rng.integers(0, CHOICES["features"], size=m)
    named = rng.random(m) < 0.5
    vectors += (named * w["features"])[:, None] * data.parts["features"][feature]
    dims = vectors.shape[1]
    vectors += np.sqrt(QUERY_NOISE) * _unit(rng, m, dims)
    return normalize(vectors.astype(np.float32))


def similarity_profile(
    vectors: Vectors, category: Ints, kind: Ints, sample: int = 500
) -> dict[str, float]:
    """Mean cosine similarity across categories, within a category, within a type,
    and with the nearest neighbour: what the generator is fitted to."""
    pick = np.random.default_rng(0).choice(
        len(vectors), size=min(sample, len(vectors)), replace=False
    )
    v, c, k = vectors[pick], category[pick], kind[pick]
    upper = np.triu_indices(len(v), 1)
    pairs = (v @ v.T)[upper]
    same_category = (c[:, None] == c[None, :])[upper]
    same_kind = (k[:, None] == k[None, :])[upper]
    nearest = v @ vectors.T
    nearest[np.arange(len(pick)), pick] = -1  # not itself
    return {
        "across categories": float(pairs[~same_category].mean()),
        "within a category": float(pairs[same_category & ~same_kind].mean()),
        "within a type": float(pairs[same_kind].mean()) if same_kind.any() else float("nan"),
        "nearest neighbour": float(nearest.max(axis=1).mean()),
    }
