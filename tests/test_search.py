"""labkit.search and retail.search_products_by_similarity: per store, by meaning,
with clear errors, and nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

import labkit
from labkit import contract, embeddings
from labkit.embeddings import StandIn, to_text
from labkit.errors import LabError
from labkit.product_search import _DOCUMENT, PLAIN_RRF

from . import search_data
from .search_data import NORTH, SOUTH

CAMPING = "something to keep drinks cold on a camping trip"
COLUMNS = [
    "product_id",
    "product_name",
    "product_description",
    "brand",
    "price",
    "similarity_score",
]
SPEC_CALL = "SELECT * FROM retail.search_products_by_similarity(%s::vector)"


@pytest.fixture(scope="module")
def catalog() -> Iterator[dict[str, list[str]]]:
    """The test stores, their products, and the offline model's embeddings of them."""
    with labkit.connect(autocommit=True) as admin:
        ids = search_data.write(admin)
        first = labkit.embed_catalog(search_data.STORES, progress=False)
        assert first.embedded == {NORTH: 11, SOUTH: 9} and sum(first.unchanged.values()) == 0
        yield ids
        search_data.remove(admin)


@pytest.fixture
def model() -> embeddings.MiniLM:
    return embeddings.offline()


def _as_app(store: str | None) -> psycopg.Connection:
    conn = labkit.connect(contract.APP_ROLE)
    if store:
        conn.execute("SELECT retail.set_store_context(%s)", (store,))
    return conn


def test_unchanged_products_are_not_embedded_again(
    catalog: dict, admin: psycopg.Connection
) -> None:
    again = labkit.embed_catalog(search_data.STORES, progress=False)
    assert again.embedded == {NORTH: 0, SOUTH: 0}
    assert again.unchanged == {NORTH: 11, SOUTH: 9}
    rows = admin.execute(
        "SELECT e.embedding_text, p.product_name, p.product_description, e.store_id = p.store_id"
        " FROM retail.product_embeddings AS e JOIN retail.products AS p USING (product_id)"
        " WHERE e.store_id = ANY(%s)",
        (list(search_data.STORES),),
    ).fetchall()
    assert len(rows) == 20 and all(same_store for *_, same_store in rows)
    assert all(
        text.startswith(f"{name} (") and text.endswith(description)
        for text, name, description, _ in rows
    )


def test_a_changed_description_is_embedded_again(catalog: dict, admin: psycopg.Connection) -> None:
    product = catalog[NORTH][0]
    admin.execute(
        "UPDATE retail.products SET product_description = product_description || ' Now 20%% lighter.'"
        " WHERE product_id = %s",
        (product,),
    )
    report = labkit.embed_catalog(search_data.STORES, progress=False)
    assert report.embedded == {NORTH: 1, SOUTH: 0}
    text = admin.execute(
        "SELECT embedding_text FROM retail.product_embeddings WHERE product_id = %s", (product,)
    ).fetchone()
    assert text is not None and text[0].endswith("Now 20% lighter.")


def test_the_text_of_an_embedding(admin: psycopg.Connection) -> None:
    text = "SELECT retail.product_embedding_text(%s, %s, %s, %s, %s)"
    cases = {
        ("Mug", "A mug.", "Home & Garden", None, None): "Mug (Home & Garden). A mug.",
        ("Lumora Mug, Teal", "A mug.", "Home & Garden", "Mug", "Kitchen"): (
            "Mug (Home & Garden: Kitchen). A mug."
        ),
        ("Mug", None, None, "", "Kitchen"): "Mug",
        ("Mug", "", "", None, ""): "Mug",
    }
    for args, expected in cases.items():
        assert admin.execute(text, args).fetchone() == (expected,)


def test_an_unknown_store_is_refused_before_anything_is_written(catalog: dict) -> None:
    with pytest.raises(
        LabError, match=r"Unknown or inactive store 'atlantis'.*Pick from:.*seattle"
    ):
        labkit.embed_catalog([NORTH, "atlantis"], StandIn(), progress=False)
    with pytest.raises(LabError, match="Cannot act for store 'atlantis'"):
        labkit.search("cooler", "atlantis")
    assert _rows_of("labkit-word-hash-64") == 0


class _FailsAfterTheFirstStore(StandIn):
    """Embeds the first store's products, then fails on the next batch (the second store's)."""

    batch_size = 4

    def __init__(self, first_store: int) -> None:
        super().__init__(16)
        self.first_store, self.texts = first_store, 0

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self.texts >= self.first_store:
            raise LabError("The model stopped halfway", "Try again")
        self.texts += len(texts)
        return super()._embed(texts)


def test_a_model_failure_leaves_every_store_as_it_was(catalog: dict) -> None:
    """Even the store whose products were all embedded before the failure: a version
    that wrote store by store would keep that store's rows."""
    first = search_data.STORES[0]
    failing = _FailsAfterTheFirstStore(len(catalog[first]))
    with pytest.raises(LabError, match="stopped halfway"):
        labkit.embed_catalog(search_data.STORES, failing, progress=False)
    assert failing.texts == len(catalog[first]) > failing.batch_size  # first store done
    assert _rows_of(failing.name) == 0


def _rows_of(model: str) -> int:
    with labkit.connect(autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM retail.product_embeddings WHERE embedding_model = %s", (model,)
        ).fetchone()
    return int(row[0]) if row else -1


def test_semantic_search_finds_a_paraphrase_that_keyword_search_misses(catalog: dict) -> None:
    north = labkit.search(CAMPING, NORTH, 5, mode="semantic")
    assert north["product_name"].iloc[0] == "Trailborne Insulated Cooler, 24 can"
    south = labkit.search(CAMPING, SOUTH, 5, mode="semantic")
    assert set(south["product_name"].iloc[:2]) == {
        "Summitcraft Soft Cooler Backpack",
        "Peakline Weekender Cooler, 65 qt",
    }
    assert labkit.search(CAMPING, NORTH, 5, mode="keyword").empty, "no product has every word"
    hybrid = labkit.search(CAMPING, NORTH, 5)
    assert hybrid["product_name"].iloc[0] == "Trailborne Insulated Cooler, 24 can"
    assert list(hybrid.columns[-3:]) == ["rrf_score", "semantic_rank", "keyword_rank"]
    assert hybrid["rrf_score"].is_monotonic_decreasing and hybrid.index[0] == 1


def test_results_never_cross_stores(catalog: dict) -> None:
    for store, other in ((NORTH, SOUTH), (SOUTH, NORTH)):
        for mode in ("semantic", "keyword", "hybrid"):
            found = labkit.search(
                "warm winter cooler for camping", store, 20, mode=mode, threshold=-1
            )
            assert set(found["product_id"]) <= set(catalog[store]), (store, mode)
            assert not set(found["product_id"]) & set(catalog[other])
    everything = labkit.search("anything at all", NORTH, 50, mode="semantic", threshold=-1)
    assert len(everything) == 11, "every active product of the store, and only those"


def test_keyword_search_wants_every_word_and_hybrid_keeps_exact_matches(catalog: dict) -> None:
    brand = labkit.search("Harbor Pine", NORTH, 5, mode="keyword")
    assert set(brand["product_name"]) == {
        "Harbor & Pine Alpine Down Jacket",
        "Harbor & Pine Merino Wool Beanie",
    }
    assert (brand["keyword_score"] > 0).all()
    hybrid = labkit.search("Harbor Pine", NORTH, 5)
    assert set(hybrid["product_name"].iloc[:2]) == set(brand["product_name"])


def test_a_model_code_puts_its_product_first_in_keyword_and_hybrid_search(catalog: dict) -> None:
    jacket = "Harbor & Pine Alpine Down Jacket"
    for query in ("HP-482K", "hp-482k", "Harbor & Pine HP-482K"):
        keyword = labkit.search(query, NORTH, 5, mode="keyword")
        assert list(keyword["product_name"]) == [jacket], query  # not the beanie's HP-482J
        hybrid = labkit.search(query, NORTH, 5)
        assert hybrid["product_name"].iloc[0] == jacket and hybrid["keyword_rank"].iloc[0] == 1
    # The letters of A-590E are a stopword: the whole code and its number still match.
    vacuum = labkit.search("a-590e", SOUTH, 5, mode="keyword")
    assert list(vacuum["product_name"]) == ["Autoglow Cordless Car Vacuum"]
    assert labkit.search("UF-731C", NORTH, 5, mode="keyword").empty, "another store's code"


def test_a_book_is_found_by_its_publisher_alone_or_before_its_code(catalog: dict) -> None:
    book = "The Calm Mind (Self-Help Book)"
    # The control: the publisher is in no product's name or description (Cascade
    # Outfitters' boots share one word of it, and are not found).
    assert not any("Cascade Press" in name + text for _, _, name, text in search_data.PRODUCTS)
    for query in ("Cascade Press", "cascade press CP-204B"):
        keyword = labkit.search(query, NORTH, 5, mode="keyword")
        assert list(keyword["product_name"]) == [book], query
        assert labkit.search(query, NORTH, 5)["product_name"].iloc[0] == book, query


def test_keyword_search_reads_the_full_text_index(admin: psycopg.Connection) -> None:
    """Its document is the index's expression, word for word (sql/02), or no index serves it."""
    keyword = f"SELECT 1 FROM retail.products AS p WHERE {_DOCUMENT} @@ websearch_to_tsquery('english', 'HP-482K')"
    with admin.transaction(force_rollback=True):  # the administrator: no policy in the way
        admin.execute("SET LOCAL enable_seqscan = off")
        plan = " ".join(line for (line,) in admin.execute(f"EXPLAIN (COSTS OFF) {keyword}"))
    assert "Bitmap Index Scan on products_search_idx" in plan, plan


def test_hybrid_counts_a_keyword_match_only_when_every_word_matches(catalog: dict) -> None:
    question = "keep me warm at home"  # each word is in some description, all in none
    hybrid = labkit.search(question, NORTH, 5)
    assert len(hybrid) == 5 and hybrid["keyword_rank"].isna().all()
    # The control: taking any word, as hybrid search did, pulls keyword matches in.
    before = labkit.search(question, NORTH, 5, fusion=PLAIN_RRF)
    assert before["keyword_rank"].notna().any()


def test_the_spec_call_keeps_its_defaults_and_columns(
    catalog: dict, model: embeddings.MiniLM
) -> None:
    vector = to_text(model.embed_query("waterproof boots for muddy hikes"))
    with _as_app(NORTH) as conn, conn.cursor() as cursor:
        cursor.execute(SPEC_CALL, (vector,))
        rows = cursor.fetchall()
        assert [column.name for column in cursor.description or []] == COLUMNS
    # The lab text's 0.7 keeps only a near-paraphrase with this model (see the notebook).
    assert [row[1] for row in rows] == ["Cascade Outfitters Waterproof Hiking Boots"]
    assert rows[0][5] >= 0.7


def test_scores_are_one_minus_cosine_distance_best_first(
    catalog: dict, model: embeddings.MiniLM
) -> None:
    query = model.embed_query("warm clothes for winter")
    with _as_app(NORTH) as conn:
        rows = conn.execute(
            "SELECT s.product_id, s.similarity_score, e.embedding::text"
            " FROM retail.search_products_by_similarity(%s::vector, 0.0, 5) AS s"
            " JOIN retail.product_embeddings AS e USING (product_id)"
            " WHERE e.embedding_model = %s",
            (to_text(query), contract.OFFLINE_EMBEDDING_MODEL),
        ).fetchall()
    assert len(rows) == 5
    scores = [score for _, score, _ in rows]
    assert scores == sorted(scores, reverse=True)
    for _, score, stored in rows:
        vector = np.array(stored.strip("[]").split(","), dtype=np.float32)
        cosine = float(vector @ query / np.linalg.norm(vector) / np.linalg.norm(query))
        assert abs(score - cosine) < 1e-4


def test_inactive_products_and_a_missing_store_context_find_nothing(
    catalog: dict, model: embeddings.MiniLM
) -> None:
    vector = to_text(model.embed_query(CAMPING))
    with _as_app(None) as conn:
        assert conn.execute(SPEC_CALL, (vector,)).fetchall() == []
    with _as_app(NORTH) as conn:
        query = "SELECT product_name FROM retail.search_products_by_similarity(%s::vector, 0, 3)"
        assert "Trailborne Insulated Cooler, 24 can" in [
            r[0] for r in conn.execute(query, (vector,))
        ]
        conn.execute(
            "UPDATE retail.products SET is_active = false WHERE product_name LIKE 'Trailborne%%'"
        )
        names = [row[0] for row in conn.execute(query, (vector,))]
        assert len(names) == 3 and "Trailborne Insulated Cooler, 24 can" not in names
        conn.rollback()


@pytest.mark.parametrize(
    ("vector", "extra", "error", "message"),
    [
        ("[1,2,3]", "", psycopg.errors.DataException, "no embedding model is known for vectors of 3 dimensions"),
        ("[" + ",".join(["0.1"] * 384) + "]", ", 0.5, 5, 'text-embedding-3-small'", psycopg.errors.DataException,
         "text-embedding-3-small vectors have 1536 dimensions, the query vector has 384"),
        (None, "", psycopg.errors.InvalidParameterValue, "a search embedding is required"),
        ("[" + ",".join(["0.1"] * 384) + "]", ", 0.5, 0", psycopg.errors.InvalidParameterValue,
         "max_results must be 1 or more, not 0"),
    ],
)  # fmt: skip
def test_bad_input_to_the_function_is_a_clear_error(
    catalog: dict, vector: str | None, extra: str, error: type[Exception], message: str
) -> None:
    with _as_app(NORTH) as conn, pytest.raises(error, match=message):
        conn.execute(
            f"SELECT * FROM retail.search_products_by_similarity(%s::vector{extra})", (vector,)
        )


def test_searching_a_store_that_was_never_embedded_says_what_to_do(catalog: dict) -> None:
    with pytest.raises(
        LabError,
        match=r"No product of store 'searchtest_north' is embedded with labkit-word-hash-8.*embed_catalog",
    ):
        labkit.search("cooler", NORTH, embedder=StandIn(8))
    with pytest.raises(LabError) as refused:
        labkit.search("cooler", NORTH, mode="semantic", embedder=StandIn(8))
    assert refused.value.fix == (
        "Run labkit.embed_catalog() first (again after seeding, which clears embeddings)"
    )
    assert not labkit.search("cooler", NORTH, mode="keyword", embedder=StandIn(8)).empty, (
        "keyword search needs no vectors, not even of the model it is given"
    )


class _Shorter(StandIn):
    """Claims the stand-in's model name, with vectors of another size."""

    def __init__(self) -> None:
        super().__init__(32)
        self.name = StandIn(64).name


def test_a_query_of_the_wrong_size_for_its_model_is_a_clear_error(catalog: dict) -> None:
    labkit.embed_catalog([NORTH], StandIn(64), progress=False)
    try:
        with pytest.raises(LabError, match=r"Search failed: expected 32 dimensions, not 64") as bad:
            labkit.search("cooler", NORTH, mode="semantic", embedder=_Shorter())
        assert bad.value.fix == "Embed the query with the products' model"  # pgvector gives none
    finally:
        with labkit.connect(autocommit=True) as admin:
            admin.execute(
                "DELETE FROM retail.product_embeddings WHERE embedding_model = %s",
                (StandIn(64).name,),
            )


EMPTY = (
    "The search query is empty",
    'Describe what you are looking for, e.g. "warm winter jacket"',
)
BAD_K = "Ask for k=10 results, say"


@pytest.mark.parametrize(
    ("arguments", "what", "fix"),
    [
        ({"query": "  "}, *EMPTY),
        ({"query": "  ", "mode": "keyword"}, *EMPTY),
        ({"k": 0}, "k must be a whole number of at least 1, not 0", BAD_K),
        ({"k": True}, "k must be a whole number of at least 1, not True", BAD_K),
        ({"k": 2.5}, "k must be a whole number of at least 1, not 2.5", BAD_K),
        (
            {"mode": "fuzzy"},
            "Unknown search mode 'fuzzy'",
            "Pick one of: hybrid, semantic, keyword",
        ),
    ],
)
def test_bad_arguments_to_search_are_clear_errors(arguments: dict, what: str, fix: str) -> None:
    call = {"query": "cooler", "store": NORTH, **arguments}
    with pytest.raises(LabError) as refused:
        labkit.search(**call)
    assert (refused.value.what, refused.value.fix) == (what, fix)


def test_k_results_at_most_ranked_from_one_and_ten_by_default(catalog: dict) -> None:
    assert len(catalog[NORTH]) > 10  # so that the default, not the store, is the limit
    found = labkit.search(CAMPING, NORTH)
    assert list(found.index) == list(range(1, 11)) and found.index.name == "rank"
    one = labkit.search(CAMPING, NORTH, k=1)
    assert list(one.index) == [1] and one.index.name == "rank"
    assert one["product_id"].tolist() == found["product_id"].tolist()[:1]


def test_semantic_search_cuts_at_the_models_threshold_unless_told_otherwise(
    catalog: dict, model: embeddings.MiniLM
) -> None:
    everything = labkit.search(CAMPING, NORTH, mode="semantic", threshold=-1.0)
    below = everything["similarity_score"] < model.default_threshold
    assert below.any() and not below.all(), "control: products on both sides of the threshold"
    cut = labkit.search(CAMPING, NORTH, mode="semantic")
    assert cut["product_id"].tolist() == everything["product_id"][~below].tolist()
    assert len(labkit.search(CAMPING, NORTH)) == len(everything), "hybrid cuts nothing"
    told = labkit.search(
        CAMPING, NORTH, mode="semantic", threshold=float(cut["similarity_score"].iloc[0])
    )
    assert told["product_id"].tolist() == cut["product_id"].tolist()[:1]


def test_the_function_runs_as_its_caller_with_pinned_settings(admin: psycopg.Connection) -> None:
    row = admin.execute(
        "SELECT p.prosecdef, p.proconfig,"
        " has_function_privilege('retail_app', p.oid, 'EXECUTE'),"
        " EXISTS (SELECT FROM aclexplode(p.proacl) AS a WHERE a.grantee = 0)"
        " FROM pg_catalog.pg_proc AS p WHERE p.oid = to_regprocedure("
        "'retail.search_products_by_similarity(vector, double precision, integer, character varying)')"
    ).fetchone()
    assert row is not None, "the function with the SPEC's arguments and an optional model"
    definer, config, app_may_run, public_may_run = row
    assert not definer, "SECURITY INVOKER: row-level security applies to the caller"
    assert set(config) == {
        "search_path=pg_catalog, public",
        "hnsw.iterative_scan=relaxed_order",
        "hnsw.ef_search=100",
    }
    assert app_may_run and not public_may_run
