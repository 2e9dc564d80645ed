"""labkit.quality: the labelled set covers what the issue asks, and the scores
are the textbook ones, checked on lists whose right answer is known."""

from __future__ import annotations

import math
from collections.abc import Iterator

import psycopg
import pytest

import labkit
from labkit import contract, quality, sampledata
from labkit.sampledata import catalog, load

JUDGED = {  # product: (category, type, brand)
    "a": ("Automotive", "Car Wash Kit", "Autoglow"),
    "b": ("Automotive", "Dash Cam", "Gearhead"),
    "c": ("Clothing", "Rain Jacket", "Solstice"),
    "d": ("Automotive", "Car Wash Kit", "Gearhead"),
    "e": ("Books & Media", "Cookbook", "Harbor House"),
    "f": ("Automotive", "Tire Inflator", "Autoglow"),
}
CODED = {  # product: (category, type, brand, model)
    "a": ("Automotive", "Car Wash Kit", "Autoglow", "A-101B"),
    "b": ("Automotive", "Dash Cam", "Gearhead", "G-101B"),
    "c": ("Automotive", "Car Wash Kit", "Gearhead", "G-202C"),
}
SHINY = quality.Query("keep my car shiny", "question", "tune", "Automotive", ("Car Wash Kit",))


def test_the_set_covers_every_category_with_plain_questions_and_brands() -> None:
    queries = quality.load()
    questions = [q for q in queries if q.kind == "question"]
    assert len(questions) >= 40
    assert {q.category for q in questions} == set(contract.CATEGORIES)
    known = {t.noun: c.name for c in catalog.categories() for t in c.types}
    brands = {b for c in catalog.categories() for b in c.brands}
    for q in questions:
        assert q.types and all(known[t] == q.category for t in q.types), q
    for q in (q for q in queries if q.kind == "brand"):
        assert q.brand in brands and all(t in known for t in q.types), q
    # Most name no word of any product type they expect.
    naming = [
        q for q in questions if any(w.lower() in q.q.lower() for t in q.types for w in t.split())
    ]
    assert len(naming) < len(questions) / 4, [q.q for q in naming]
    assert {q.split for q in queries} == {"tune", "held out"}


def test_precision_at_5_counts_the_right_category_in_the_top_five() -> None:
    # Four Automotive products to find: at most four of the five can be right.
    assert quality.score(SHINY, ["a", "b", "c", "d", "e", "f"], JUDGED)["p5"] == 3 / 4
    assert quality.score(SHINY, ["f", "a", "b", "d"], JUDGED)["p5"] == 1.0
    assert quality.score(SHINY, ["a", "c"], JUDGED)["p5"] == 1 / 4, "a missing result is wrong"


def test_ndcg_is_one_for_the_best_order_and_less_for_any_other() -> None:
    best = quality.score(SHINY, ["a", "d", "b", "f", "c", "e"], JUDGED)["ndcg10"]
    worse = quality.score(SHINY, ["b", "f", "a", "d", "c", "e"], JUDGED)["ndcg10"]
    assert math.isclose(best, 1.0) and 0 < worse < 1
    # By hand: gains 1, 1, 2, 2 against the ideal 2, 2, 1, 1.
    dcg = 1 + 1 / math.log2(3) + 2 / 2 + 2 / math.log2(5)
    ideal = 2 + 2 / math.log2(3) + 1 / 2 + 1 / math.log2(5)
    assert math.isclose(worse, dcg / ideal)


def test_a_brand_with_a_type_wants_both_and_a_missing_brand_is_left_out() -> None:
    washer = quality.Query(
        "Gearhead car wash", "brand", "tune", brand="Gearhead", types=("Car Wash Kit",)
    )
    assert quality.score(washer, ["b", "d", "a"], JUDGED)["p5"] == 1.0, "one to find, found"
    assert quality.score(washer, ["b", "a", "c"], JUDGED)["p5"] == 0.0
    absent = quality.Query("Voltwave", "brand", "tune", brand="Voltwave")
    assert math.isnan(quality.score(absent, ["a"], JUDGED)["p5"])


def test_a_model_code_has_one_right_answer_and_with_a_brand_wants_that_brand_too() -> None:
    code = quality.Query("G-101B", "model", "tune", model="G-101B")
    found = quality.score(code, ["c", "a", "b"], CODED)
    assert found["p5"] == 1.0 and found["relevant"] == 1, "in the top five, out of one"
    assert math.isclose(found["ndcg10"], 1 / math.log2(4)), "gain 1, at rank 3"
    assert quality.score(code, ["c", "a"], CODED)["p5"] == 0.0
    wrong_brand = quality.Query(
        "Autoglow G-101B", "model", "tune", brand="Autoglow", model="G-101B"
    )
    assert math.isnan(quality.score(wrong_brand, ["b"], CODED)["p5"]), "nothing to find"
    assert all(q.kind != "model" for q in quality.load()), "codes are the catalog's, not written"


@pytest.fixture
def seeded() -> Iterator[None]:
    """Other tests and notebooks expect the sample tables as setup leaves them."""
    yield
    with labkit.connect(contract.OWNER_ROLE) as conn:
        conn.execute(f"TRUNCATE {', '.join(f'retail.{t}' for t in load.SAMPLE_TABLES)}")


def test_model_queries_are_the_catalogs_codes_and_the_same_for_the_same_seed(
    seeded: None, admin: psycopg.Connection
) -> None:
    sampledata.seed("tiny", seed=7, quiet=True)
    first = {store: quality.models(store) for store in contract.STORES}
    sampledata.seed("tiny", seed=8, quiet=True)
    other = {store: quality.models(store) for store in contract.STORES}
    sampledata.seed("tiny", seed=7, quiet=True)
    assert {store: quality.models(store) for store in contract.STORES} == first
    assert first != other, "each seed draws its own codes"
    for store, queries in first.items():
        brands = dict(
            admin.execute(
                "SELECT model, brand FROM retail.products WHERE store_id = %s AND is_active",
                (store,),
            ).fetchall()
        )
        codes = [q.model for q in queries if q.brand is None]
        assert 0 < len(codes) == len(set(codes)) <= quality.MODELS_PER_CATEGORY * 7
        assert {q.model for q in queries} == set(codes), "each code is asked for alone"
        with_brand = sorted(q.model for q in queries if q.brand is not None)
        assert with_brand == sorted(codes), "and after its brand, a book's publisher too"
        for q in queries:
            brand = brands[q.model]
            assert q.kind == "model" and q.q in (q.model, f"{brand} {q.model}"), q
            assert q.brand in (None, brand), q
        assert {q.split for q in queries} == {"tune", "held out"}


def test_keyword_and_hybrid_search_find_every_code_of_the_sample_catalog(seeded: None) -> None:
    sampledata.seed("tiny", seed=7, quiet=True)
    labkit.embed_catalog(progress=False)
    for store in ("seattle", "online"):
        queries = quality.models(store)
        frame = quality.evaluate([store], ["keyword", "hybrid"], queries=queries)
        assert len(frame) == 2 * len(queries) and frame["kind"].eq("model").all()
        assert frame["p5"].eq(1.0).all() and frame["ndcg10"].eq(1.0).all(), frame
