"""Product search for one store: by keyword, by meaning, or both (hybrid).

>>> labkit.embed_catalog()                      # once, and again after products change
>>> labkit.search("warm winter jacket", store="seattle", k=10)

Semantic search goes through ``retail.search_products_by_similarity`` (sql/05),
keyword search through the full-text index of sql/02, both as ``mcp_user`` in one
``as_store`` transaction, so row-level security keeps every result in the store.
Embedding the catalog lives in ``labkit.embeddings.catalog``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import psycopg

from . import tenancy
from .embeddings import Embedder, get, to_text
from .embeddings.catalog import EmbedReport, embed_catalog
from .errors import LabError

__all__ = ["MODES", "EmbedReport", "embed_catalog", "search"]

MODES = ("hybrid", "semantic", "keyword")
#: Reciprocal rank fusion: a product scores 1 / (RRF_K + rank) in each list it is in.
RRF_K = 60

_EMBEDDED = "SELECT EXISTS (SELECT FROM retail.product_embeddings WHERE embedding_model = %s)"
# The expression of the full-text index in sql/02_schema.sql, so that it is used.
_DOCUMENT = "to_tsvector('english'::regconfig, p.product_name || ' ' || coalesce(p.product_description, ''))"
_SEMANTIC = """
    SELECT s.product_id, s.similarity_score,
           row_number() OVER (ORDER BY s.similarity_score DESC, s.product_id) AS semantic_rank
    FROM retail.search_products_by_similarity(%(vector)s::vector, %(threshold)s, %(depth)s, %(model)s) AS s
"""
# Keyword search proper wants every word (websearch_to_tsquery: AND); the keyword
# half of hybrid search takes any of them (OR), ranked by how well they match,
# since a question in plain words rarely has all its words in one product.
_KEYWORD = f"""
    SELECT p.product_id, ts_rank_cd({_DOCUMENT}, t.q)::double precision AS keyword_score,
           row_number() OVER (ORDER BY ts_rank_cd({_DOCUMENT}, t.q) DESC, p.product_id) AS keyword_rank
    FROM retail.products AS p,
         (SELECT CASE WHEN %(any_word)s
                      THEN replace(websearch_to_tsquery('english', %(query)s)::text, ' & ', ' | ')::tsquery
                      ELSE websearch_to_tsquery('english', %(query)s) END) AS t (q)
    WHERE p.is_active AND {_DOCUMENT} @@ t.q
    ORDER BY keyword_rank
    LIMIT %(depth)s
"""
_RESULT = """
    SELECT p.product_id, p.product_name, c.category_name AS category, p.brand, p.price, {scores}
    FROM ({found}) AS found
    JOIN retail.products AS p USING (product_id)
    LEFT JOIN retail.product_categories AS c USING (category_id)
    ORDER BY {order}, p.product_id
    LIMIT %(k)s
"""
_HYBRID = f"""
    SELECT product_id, semantic_rank, keyword_rank,
           coalesce(1.0 / ({RRF_K} + semantic_rank), 0) + coalesce(1.0 / ({RRF_K} + keyword_rank), 0)
               AS rrf_score
    FROM ({_SEMANTIC}) AS s FULL JOIN ({_KEYWORD}) AS k USING (product_id)
"""
_STATEMENTS = {
    "semantic": _RESULT.format(
        found=_SEMANTIC, scores="found.similarity_score", order="found.similarity_score DESC"
    ),
    "keyword": _RESULT.format(
        found=_KEYWORD, scores="found.keyword_score", order="found.keyword_score DESC"
    ),
    "hybrid": _RESULT.format(
        found=_HYBRID,
        scores="found.rrf_score::double precision AS rrf_score, found.semantic_rank, found.keyword_rank",
        order="found.rrf_score DESC",
    ),
}


def search(
    query: str,
    store: str,
    k: int = 10,
    *,
    mode: str = "hybrid",
    embedder: Embedder | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """The ``k`` best active products of ``store`` for ``query``, best first.

    ``mode``: ``"semantic"`` (by meaning, through retail.search_products_by_similarity),
    ``"keyword"`` (full-text search, every word must match) or ``"hybrid"`` (both,
    merged by reciprocal rank fusion). ``threshold``: the lowest similarity a
    semantic match may have; by default the model's own, measured one.
    """
    if mode not in MODES:
        raise LabError(f"Unknown search mode {mode!r}", f"Pick one of: {', '.join(MODES)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise LabError(
            f"k must be a whole number of at least 1, not {k!r}", "Ask for k=10 results, say"
        )
    if not isinstance(query, str) or not query.strip():
        raise LabError(
            "The search query is empty",
            'Describe what you are looking for, e.g. "warm winter jacket"',
        )
    params: dict[str, object] = {
        "query": query,
        "k": k,
        "depth": max(4 * k, 40),
        "any_word": mode == "hybrid",
    }
    if mode != "keyword":
        model = embedder or get()
        params |= {"vector": to_text(model.embed_query(query)), "model": model.name}
        params["threshold"] = model.default_threshold if threshold is None else threshold
    try:
        with tenancy.as_store(store) as conn, conn.cursor() as cursor:
            if mode != "keyword":
                _check_embedded(cursor, store, str(params["model"]))
            cursor.execute(_STATEMENTS[mode], params)
            columns = [column.name for column in cursor.description or []]
            frame = pd.DataFrame(cursor.fetchall(), columns=columns)
    except psycopg.errors.DataException as error:
        hint = error.diag.message_hint or "Embed the query with the products' model"
        raise LabError(f"Search failed: {error.diag.message_primary}", hint) from error
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="rank")
    return frame


def _check_embedded(cursor: psycopg.Cursor[Any], store: str, model: str) -> None:
    """A store with no vectors of ``model`` would find nothing, silently: say why."""
    cursor.execute(_EMBEDDED, (model,))
    if not (row := cursor.fetchone()) or not row[0]:
        raise LabError(
            f"No product of store {store!r} is embedded with {model}",
            "Run labkit.embed_catalog() first (again after seeding, which clears embeddings)",
        )
