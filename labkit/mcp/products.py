"""Product search by meaning for one store, through ``retail.search_products_by_similarity``.

The query is embedded with the model the store's products are embedded with (the
one ``LABKIT_EMBEDDINGS`` names, when the store has it), and the threshold is a
percent, as in the sample server: 30.0 means a cosine similarity of 0.30.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import psycopg

from .. import embeddings
from ..errors import LabError

MAX_ROWS = 100
_MODELS = (
    "SELECT embedding_model FROM retail.product_embeddings GROUP BY 1 ORDER BY count(*) DESC, 1"
)
_SEARCH = """
    SELECT s.product_name, s.brand, s.price, round((100 * s.similarity_score)::numeric, 1),
           s.product_description, s.product_id
    FROM retail.search_products_by_similarity(%s::vector, %s, %s, %s) AS s
"""
_COLUMNS = ["product_name", "brand", "price", "similarity_percent", "description", "product_id"]


def check_arguments(query: str, max_rows: int, threshold: float) -> None:
    if not isinstance(query, str) or not query.strip():
        raise LabError(
            "query_description is empty", 'Describe the product, e.g. "warm winter jacket"'
        )
    if not 1 <= max_rows <= MAX_ROWS:
        raise LabError(f"max_rows must be 1 to {MAX_ROWS}, not {max_rows}", "Ask for 20, say")
    if not 0 <= threshold <= 100:
        raise LabError(
            f"similarity_threshold is a percent, 0 to 100, not {threshold}",
            "Pass 30.0 for a cosine similarity of at least 0.30",
        )


def embedder_for(store: str, models: list[str]) -> embeddings.Embedder:
    """The model to embed the query with: one the store's products are embedded with."""
    candidates: list[embeddings.Embedder] = []
    # LABKIT_EMBEDDINGS may name a model this process cannot use (no API key).
    with contextlib.suppress(LabError):
        candidates.append(embeddings.get())
    candidates += [embeddings.offline(), embeddings.StandIn()]
    for model in candidates:
        if model.name in models:
            return model
    if not models:
        raise LabError(
            f"No product of store {store!r} is embedded, so there is nothing to search by meaning",
            "Embed the catalog first: `labkit embed`, or labkit.embed_catalog() in Python"
            " (again after labkit seed)",
        )
    raise LabError(
        f"Store {store!r}'s products are embedded with {', '.join(models)}, which this server"
        " cannot embed a query with",
        "Set LABKIT_EMBEDDINGS for that model (openai needs OPENAI_API_KEY) and restart the server,"
        " or embed the catalog with the offline model: `labkit embed`",
    )


def search(
    conn: psycopg.Connection[Any], store: str, query: str, max_rows: int, threshold: float
) -> str:
    """The compact JSON shape of the sample server: c(olumns), r(ows), n."""
    check_arguments(query, max_rows, threshold)
    models = [model for (model,) in conn.execute(_MODELS)]
    model = embedder_for(store, models)
    vector = embeddings.to_text(model.embed_query(query))
    rows = conn.execute(_SEARCH, (vector, threshold / 100, max_rows, model.name)).fetchall()
    shape: dict[str, Any] = {"store": store, "model": model.name, "c": _COLUMNS, "r": rows}
    shape["n"] = len(rows)
    if not rows:
        shape["msg"] = f"No product is {threshold}% similar or more; try a lower threshold"
    return json.dumps(shape, separators=(",", ":"), default=str)
