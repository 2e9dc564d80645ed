"""Product search for one store: by keyword, by meaning, or both (hybrid).

>>> labkit.embed_catalog()                      # once, and again after products change
>>> labkit.search("warm winter jacket", store="seattle", k=10)

Semantic search goes through ``retail.search_products_by_similarity`` (sql/05),
keyword search through the full-text index of sql/02, both as ``mcp_user`` in one
``as_store`` transaction, so row-level security keeps every result in the store.
Embedding the catalog lives in ``labkit.embeddings.catalog``.

Hybrid search, as measured on the labelled questions of ``labkit.quality``
(``benchmarks/search_quality.py``): the semantic list is re-ranked by a vote of
its nearest products on the department (category) the question is about, which
fills the top five with the right kind of product where cosine similarity alone
mixes departments; the keyword list counts only products that match every word,
so a plain-language question leaves it empty and changes nothing, while a brand
or model name puts its exact matches on top (the keyword document is the name,
description, model code and brand). The two are merged by reciprocal rank fusion, the
keyword list counting twice: a product that matches every word of the query then
outranks every product found by meaning alone, which keeps brand and model queries
right now that the embedded text leaves brand names and codes out (sql/05,
retail.product_embedding_text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg

from . import tenancy
from .embeddings import Embedder, get, to_text
from .embeddings.catalog import EmbedReport, embed_catalog
from .errors import LabError

__all__ = ["FUSION", "MODES", "PLAIN_RRF", "EmbedReport", "Fusion", "embed_catalog", "search"]

MODES = ("hybrid", "semantic", "keyword")
#: Reciprocal rank fusion: a product scores weight / (RRF_K + rank) in each list it is in.
RRF_K = 60


@dataclass(frozen=True)
class Fusion:
    """How hybrid search merges its two lists (see the module's docstring).

    ``consensus`` nearest products vote on the store's department (category) the
    question is about, each with weight exp(similarity / ``tau``); a product's
    semantic score gains ``alpha`` times its category's share of the votes, so the
    department the nearest products agree on fills the top. ``keyword_weight``
    scales the keyword list's reciprocal ranks: at 2, rank 40 of the keyword list
    (2/100) still beats rank 1 of the semantic list (1/61). ``any_word`` lets the keyword
    half match any word of the question instead of all of them.
    """

    consensus: int = 10
    tau: float = 0.02
    alpha: float = 1.0
    keyword_weight: float = 2.0
    any_word: bool = False


#: Chosen on the "tune" half of labkit/quality/queries.toml (benchmarks/search_quality.py).
FUSION = Fusion()
#: What hybrid search did before: any word, equal weights, no department vote.
PLAIN_RRF = Fusion(consensus=0, alpha=0.0, keyword_weight=1.0, any_word=True)

_EMBEDDED = "SELECT EXISTS (SELECT FROM retail.product_embeddings WHERE embedding_model = %s)"
# The expression of the full-text index in sql/02_schema.sql, so that it is used:
# name, description, model (a code such as TB-4821K, typed alone or after the brand)
# and brand (a book's publisher is not in its name).
_DOCUMENT = (
    "to_tsvector('english'::regconfig,"
    " p.product_name || ' ' || coalesce(p.product_description, '') || ' ' || coalesce(p.model, '')"
    " || ' ' || coalesce(p.brand, ''))"
)
_SIMILAR = (
    "retail.search_products_by_similarity(%(vector)s::vector, %(threshold)s, %(depth)s, %(model)s)"
)
_SEMANTIC = f"""
    SELECT s.product_id, s.similarity_score,
           row_number() OVER (ORDER BY s.similarity_score DESC, s.product_id) AS semantic_rank
    FROM {_SIMILAR} AS s
"""
# Keyword search wants every word (websearch_to_tsquery: AND): only products that
# match the whole question count. Taking any word (OR) let "keep", "warm" or
# "home" pull unrelated products into hybrid search's top five (measured).
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
# The vote's weights are taken relative to the best similarity, so exp() stays in range.
_HYBRID = f"""
    WITH semantic AS (
        SELECT s.product_id, s.similarity_score, p.category_id
        FROM {_SIMILAR} AS s
        JOIN retail.products AS p USING (product_id)
    ), nearest AS (
        SELECT category_id, similarity_score, max(similarity_score) OVER () AS best
        FROM semantic ORDER BY similarity_score DESC, product_id LIMIT %(consensus)s
    ), votes AS (
        SELECT category_id, sum(exp(greatest((similarity_score - best) / %(tau)s, -700))) AS weight
        FROM nearest GROUP BY category_id
    ), shares AS (
        SELECT category_id, weight / sum(weight) OVER () AS share FROM votes
    ), semantic_ranked AS (
        SELECT s.product_id,
               row_number() OVER (ORDER BY s.similarity_score + %(alpha)s * coalesce(v.share, 0) DESC,
                                           s.product_id) AS semantic_rank
        FROM semantic AS s LEFT JOIN shares AS v USING (category_id)
    )
    SELECT product_id, semantic_rank, keyword_rank,
           coalesce(1.0 / ({RRF_K} + semantic_rank), 0)
               + %(keyword_weight)s * coalesce(1.0 / ({RRF_K} + keyword_rank), 0) AS rrf_score
    FROM semantic_ranked FULL JOIN ({_KEYWORD}) AS k USING (product_id)
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
    fusion: Fusion = FUSION,
) -> pd.DataFrame:
    """The ``k`` best active products of ``store`` for ``query``, best first.

    ``mode``: ``"semantic"`` (by meaning, through retail.search_products_by_similarity),
    ``"keyword"`` (full-text search, every word must match) or ``"hybrid"`` (both,
    merged as ``fusion`` says). ``threshold``: the lowest similarity a semantic
    match may have; by default the model's own, measured one in semantic mode,
    and none in hybrid mode, which ranks every product it finds.
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
        "any_word": mode == "hybrid" and fusion.any_word,
        "consensus": fusion.consensus,
        "tau": fusion.tau,
        "alpha": fusion.alpha,
        "keyword_weight": fusion.keyword_weight,
    }
    by_meaning = mode != "keyword"  # the modes that embed the query and need vectors
    if by_meaning:
        model = embedder or get()
        params |= {"vector": to_text(model.embed_query(query)), "model": model.name}
        # Hybrid search ranks and does not cut: the right answers to a plain
        # question often score below the model's threshold (measured), and the
        # department vote needs them to see which department is meant.
        default = model.default_threshold if mode == "semantic" else None
        params["threshold"] = default if threshold is None else threshold
    try:
        with tenancy.as_store(store) as conn, conn.cursor() as cursor:
            if by_meaning:
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
