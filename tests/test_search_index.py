"""sql/05_vector_search.sql: one HNSW graph per store and model, used by the
search function for the store in the context; iterative scans; and a file that
is safe to apply again."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

import labkit
from labkit import catalog, contract, embeddings, schema
from labkit.embeddings import ann

from . import search_data
from .search_data import NORTH

INDEX = "product_embeddings_minilm_hnsw_seattle"
#: Plans as on a large table, where reading every row and sorting them is expensive.
LARGE = {"enable_seqscan": "off", "enable_sort": "off"}


def test_each_store_has_its_own_partial_hnsw_index_per_model(admin: psycopg.Connection) -> None:
    found = dict(
        admin.execute(
            "SELECT indexname, indexdef FROM pg_catalog.pg_indexes"
            " WHERE schemaname = 'retail' AND indexdef LIKE '%%USING hnsw%%'"
        ).fetchall()
    )
    for store in contract.STORES:
        for tag in ("minilm", "te3small"):
            assert f"product_embeddings_{tag}_hnsw_{store}" in found
    offline = found[INDEX]
    assert "((embedding)::vector(384)) vector_cosine_ops" in offline
    assert f"((embedding_model)::text = '{contract.OFFLINE_EMBEDDING_MODEL}'" in offline
    assert "((store_id)::text = 'seattle'::text)" in offline
    assert "m='16'" in offline and "ef_construction='128'" in offline
    assert not any(name.endswith("_hnsw_idx") for name in found), "no graph over every store"


def test_a_new_store_gets_its_graphs_and_a_deleted_one_takes_them_along(
    admin: psycopg.Connection,
) -> None:
    names = "SELECT count(*) FROM pg_catalog.pg_indexes WHERE indexname LIKE %s"
    pattern = "product_embeddings_%_hnsw_newstore_x"
    with admin.transaction(force_rollback=True):
        admin.execute(
            "INSERT INTO retail.stores (store_id, store_name) VALUES ('newstore_x', 'New store')"
        )
        assert admin.execute(names, (pattern,)).fetchone() == (2,)
        admin.execute("DELETE FROM retail.stores WHERE store_id = 'newstore_x'")
        assert admin.execute(names, (pattern,)).fetchone() == (0,)


def test_a_store_with_a_long_name_gets_an_index_name_that_fits(admin: psycopg.Connection) -> None:
    store = "a-store-with-a-name-of-fifty-characters-1234567890"[:50]
    row = admin.execute(
        "SELECT retail.store_vector_index(%s, %s)", (store, contract.EMBEDDING_MODEL)
    ).fetchone()
    assert (
        row is not None and len(row[0]) <= 63 and row[0].startswith("product_embeddings_te3small")
    )


def test_the_search_function_uses_the_offline_index() -> None:
    vector = embeddings.offline().embed_query("warm winter jacket")
    # A few hundred rows are cheaper to read and sort than to search; make both
    # expensive, as a large catalog does, and the planner takes the index (the
    # benchmark shows it unforced, at 100,000 rows).
    plan = ann.function_plan(vector, "seattle", settings=LARGE)
    text = "\n".join(plan)
    assert f"Index Scan using {INDEX} on product_embeddings" in text, text
    assert "(InitPlan 1).col1" in text, "the policy still applies"


def test_without_the_model_filter_no_index_can_serve_the_query(admin: psycopg.Connection) -> None:
    vector = embeddings.to_text(embeddings.offline().embed_query("warm winter jacket"))
    query = "SELECT product_id FROM retail.product_embeddings {} ORDER BY embedding::vector(384) <=> %s::vector(384) LIMIT 10"
    with admin.transaction():
        for name, value in LARGE.items():
            admin.execute("SELECT set_config(%s, %s, true)", (name, value))
        filtered = "\n".join(
            ann.plan_lines(
                admin,
                query.format("WHERE embedding_model = %s"),
                (contract.OFFLINE_EMBEDDING_MODEL, vector),
            )
        )
        unfiltered = "\n".join(ann.plan_lines(admin, query.format(""), (vector,)))
    assert "hnsw" not in filtered and "hnsw" not in unfiltered, "no graph covers every store"
    assert "Sort" in unfiltered, "every row compared"


def test_iterative_scan_keeps_a_selective_filter_from_truncating_results() -> None:
    with ann.Scratch(3000, stores=100, m=20) as scratch:
        truth, _ = scratch.exact(filtered=True)
        scratch.build("hnsw")
        scratch.set("enable_seqscan", "off")  # as a large table would, take the index
        scratch.set("hnsw.iterative_scan", "off")
        plain, _ = scratch.nearest(filtered=True)
        scratch.set("hnsw.iterative_scan", "relaxed_order")
        iterative, _ = scratch.nearest(filtered=True)
    assert sum(map(len, plain)) / len(plain) < 3, (
        "ef_search candidates first, the store filter after"
    )
    assert all(len(found) == 10 for found in iterative)
    assert ann.recall(truth, iterative) >= 0.9


def test_the_scratch_table_never_outlives_its_transaction(admin: psycopg.Connection) -> None:
    with ann.Scratch(200, m=2) as scratch, ann.Scratch(200, m=2) as again:  # no waiting
        assert scratch.build("ivfflat", lists=4) > 0 and again.schema != scratch.schema
    assert admin.execute("SELECT to_regnamespace(%s)", (scratch.schema,)).fetchone() == (None,)


def test_recall_is_the_share_of_the_true_neighbours_found() -> None:
    assert ann.recall([[1, 2, 3, 4]], [[4, 3, 9, 8]]) == 0.5
    assert ann.recall([[1, 2], [3, 4]], [[1, 2], []]) == 0.5


def test_applying_the_file_again_changes_nothing_and_waits_for_no_one(
    admin: psycopg.Connection,
) -> None:
    before = catalog.snapshot(admin)
    with labkit.connect(autocommit=True) as writer:
        writer.execute("BEGIN")
        writer.execute(
            "LOCK TABLE retail.product_embeddings IN ROW EXCLUSIVE MODE"
        )  # a writer at work
        with labkit.connect(autocommit=True) as setup:
            setup.execute("SET lock_timeout = '2s'")
            schema.apply_file(setup, schema.sql_file("vector_search"))
        writer.execute("ROLLBACK")
    assert catalog.snapshot(admin) == before


def test_a_missing_index_is_built_and_the_lab_texts_function_replaced(
    admin: psycopg.Connection,
) -> None:
    with admin.transaction(force_rollback=True):
        admin.execute(f"DROP INDEX retail.{INDEX}")
        admin.execute(
            "CREATE FUNCTION retail.search_products_by_similarity("
            "search_embedding vector(1536), similarity_threshold float DEFAULT 0.7,"
            " max_results integer DEFAULT 20) RETURNS SETOF uuid LANGUAGE sql AS 'SELECT NULL::uuid'"
        )
        schema.apply_file(admin, schema.sql_file("vector_search"))
        assert admin.execute("SELECT to_regclass(%s)", (f"retail.{INDEX}",)).fetchone() != (None,)
        lab_text = "retail.search_products_by_similarity(vector, double precision, integer)"
        assert admin.execute("SELECT to_regprocedure(%s)", (lab_text,)).fetchone() == (None,)
        # The SPEC's one-argument call reaches the lab's function, with its columns.
        one_argument = "SELECT * FROM retail.search_products_by_similarity(%s::vector) LIMIT 0"
        cursor = admin.execute(one_argument, ("[" + ",".join(["0.5"] * 384) + "]",))
        assert [column.name for column in cursor.description or []] == [
            "product_id",
            "product_name",
            "product_description",
            "brand",
            "price",
            "similarity_score",
        ]


@pytest.mark.parametrize(
    ("model", "size"),
    [(contract.EMBEDDING_MODEL, 1536), (contract.OFFLINE_EMBEDDING_MODEL, 384)],
)
def test_the_function_knows_each_models_size(
    admin: psycopg.Connection, model: str, size: int
) -> None:
    """A vector of the model's size finds its model unnamed; named, the model refuses
    any other size, saying its own. The sizes live in retail.embedding_models() only."""
    known = admin.execute(
        "SELECT dimensions FROM retail.embedding_models() WHERE embedding_model = %s", (model,)
    ).fetchone()
    assert known == (size,)
    search = "SELECT count(*) FROM retail.search_products_by_similarity(%s::vector, %s, 5, %s)"

    def vector(dimensions: int) -> str:
        return "[" + ",".join(["0.5"] * dimensions) + "]"

    with admin.transaction(force_rollback=True):
        assert admin.execute(search, (vector(size), None, None)).fetchone() is not None
        with pytest.raises(psycopg.errors.DataException, match=rf"{model} vectors have {size} "):
            admin.execute(search, (vector(size + 1), None, model))
    unknown = pytest.raises(psycopg.errors.DataException, match="no embedding model is known")
    with admin.transaction(force_rollback=True), unknown:
        admin.execute(search, (vector(3), None, None))


@pytest.fixture(scope="module")
def two_stores() -> Iterator[None]:
    """The search tests' two stores, embedded with the offline model."""
    with search_data.embedded():
        yield


def _removed_by_filter(conn: psycopg.Connection, where: sql.Composable, vector: str) -> int:
    """Rows of product_embeddings the nearest-neighbour scan read and then dropped:
    what EXPLAIN ANALYZE tells a tenant about rows it may not see."""
    probe = sql.SQL(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT product_id"
        " FROM retail.product_embeddings WHERE embedding_model = {} {}"
        " ORDER BY embedding::vector(384) <=> {}::vector(384) LIMIT 5"
    ).format(sql.Literal(contract.OFFLINE_EMBEDDING_MODEL), where, sql.Literal(vector))
    lines = [row[0] for row in conn.execute(probe)]
    assert any("hnsw" in line for line in lines), lines
    return sum(int(line.split(":")[1]) for line in lines if "Rows Removed by Filter" in line)


def test_a_stores_graph_holds_no_other_stores_rows(two_stores: None) -> None:
    vector = embeddings.to_text(embeddings.offline().embed_query("warm winter jacket"))
    own = sql.SQL("AND store_id = {}").format(sql.Literal(NORTH))
    with labkit.connect(autocommit=True) as admin, admin.transaction(force_rollback=True):
        for name, value in LARGE.items():
            admin.execute("SELECT set_config(%s, %s, true)", (name, value))
        admin.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(contract.APP_ROLE)))
        admin.execute("SELECT retail.set_store_context(%s)", (NORTH,))
        assert _removed_by_filter(admin, own, vector) == 0, "only the store's own rows are read"
        # The control: one graph over every store, as the lab had, is walked through
        # the other store's rows, and EXPLAIN ANALYZE counts them.
        admin.execute("RESET ROLE")
        admin.execute(
            "CREATE INDEX shared_hnsw_graph ON retail.product_embeddings"
            " USING hnsw ((embedding::vector(384)) vector_cosine_ops)"
            " WHERE embedding_model = 'all-MiniLM-L6-v2-int8'"
        )
        admin.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(contract.APP_ROLE)))
        assert _removed_by_filter(admin, sql.SQL(""), vector) > 0
