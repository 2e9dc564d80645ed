"""labkit.quality: the labelled set covers what the issue asks, and the scores
are the textbook ones, checked on lists whose right answer is known."""

from __future__ import annotations

import math

from labkit import contract, quality
from labkit.sampledata import catalog

JUDGED = {  # product: (category, type, brand)
    "a": ("Automotive", "Car Wash Kit", "Autoglow"),
    "b": ("Automotive", "Dash Cam", "Gearhead"),
    "c": ("Clothing", "Rain Jacket", "Solstice"),
    "d": ("Automotive", "Car Wash Kit", "Gearhead"),
    "e": ("Books & Media", "Cookbook", "Harbor House"),
    "f": ("Automotive", "Tire Inflator", "Autoglow"),
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
