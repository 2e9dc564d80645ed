"""The sample generator's parts, without a database: money, encodings, clock, catalog."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from labkit import contract
from labkit.errors import LabError
from labkit.sampledata import catalog, clock, copybinary, copytext, money, params, products


def test_money_is_in_cents_and_rounds_half_up() -> None:
    # 2 x $10.05 with 15% off: gross 20.10, discount 3.015 -> 3.02, line 17.08,
    # tax 8% of 17.08 = 1.3664 -> 1.37. $0.25 with 8% tax: 0.02 exactly halfway -> 0.02.
    lines = money.lines(np.array([2, 1, 3]), np.array([1005, 25, 1999]), np.array([15, 0, 0]), 8)
    assert lines.gross.tolist() == [2010, 25, 5997]
    assert lines.discount.tolist() == [302, 0, 0]
    assert lines.total_price.tolist() == [1708, 25, 5997]
    assert lines.tax.tolist() == [137, 2, 480]
    totals = money.totals(lines, np.array([0, 2]))
    assert totals.subtotal.tolist() == [2035, 5997]
    assert totals.discount.tolist() == [302, 0]
    assert totals.tax.tolist() == [139, 480]
    assert totals.total.tolist() == [2035 - 302 + 139, 5997 + 480]


def test_money_halfway_cents_round_up() -> None:
    assert money.percent_of(np.array([50, 150, 149]), 1).tolist() == [1, 2, 1]


def test_text_rows_escape_and_null() -> None:
    fields = [
        copytext.texts(["a\tb", None]),
        copytext.integers(np.array([7, 123])),
        copytext.decimals(np.array([5, 123456])),
    ]
    assert copytext.rows(fields) == b"a\\tb\t007\t0000.05\n\\N\t123\t1234.56\n"


def test_uuid7_carries_the_time_and_the_version() -> None:
    ms = np.array([1_700_000_000_000, 1_700_000_000_001, 1_750_000_000_000])
    raw = copytext.uuid7s(np.random.default_rng(0), ms)
    text = copytext.rows([copytext.uuids(raw)]).decode().split()
    for value, millis in zip(text, ms, strict=True):
        key = uuid.UUID(value)
        assert key.version == 7 and key.variant == uuid.RFC_4122
        assert int(value.replace("-", "")[:12], 16) == millis
    with pytest.raises(ValueError, match="time order"):
        copytext.uuid7s(np.random.default_rng(0), ms[::-1])


def test_binary_numeric_has_three_base_10000_digits() -> None:
    field = copybinary.numeric(np.array([12345678_90]))
    words = field.data.view(">i2").ravel().tolist()
    assert words == [3, 1, 0, 2, 1234, 5678, 9000]


@pytest.mark.parametrize("year", [2024, 2025])
def test_wall_clock_to_utc_follows_daylight_saving(year: int) -> None:
    zone = ZoneInfo(params.TIMEZONE)
    wall = [
        dt.datetime(year, month, day, hour, 30)
        for month, day in ((1, 15), (3, 9), (3, 10), (7, 4), (11, 2), (11, 3))
        for hour in range(24)
    ]
    epoch = dt.datetime(1970, 1, 1)
    seconds = np.array([int((w - epoch).total_seconds()) for w in wall])
    expected = [int(w.replace(tzinfo=zone).timestamp()) for w in wall]
    assert clock.to_utc(seconds).tolist() == expected


def test_day_weights_shape_weeks_and_seasons() -> None:
    first, stop = clock.window(dt.date(2025, 7, 1))
    weights = clock.day_weights(first, stop)
    assert len(weights) == params.DAYS and abs(weights.sum() - 1) < 1e-9
    days = [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in range(first, stop)]
    saturday = np.mean([w for w, d in zip(weights, days, strict=True) if d.weekday() == 5])
    tuesday = np.mean([w for w, d in zip(weights, days, strict=True) if d.weekday() == 1])
    assert saturday > 1.3 * tuesday
    black_friday = next(
        i for i, d in enumerate(days) if d.month == 11 and d.weekday() == 4 and d.day >= 23
    )
    assert weights[black_friday] == weights.max()


def test_the_catalog_covers_every_category_with_real_words() -> None:
    cats = catalog.categories()
    assert [c.name for c in cats] == list(contract.CATEGORIES)
    for category in cats:
        assert len(category.types) >= 15, category.name
        assert len(category.brands) >= 5 and len(category.suppliers) >= 3
        for kind in category.types:
            nouns = set(re.findall(r"[a-z]+", kind.noun.lower()))
            for material in kind.materials:
                assert not nouns & set(re.findall(r"[a-z]+", material.lower())), (
                    f"'{material} {kind.noun}' says a word twice"
                )
            assert len(kind.use.split()) >= 5, kind.noun


def test_descriptions_say_what_a_product_is_for() -> None:
    goods = products.generate(np.random.default_rng(3), 200)
    cooler = next(d for d in goods.description if "insulated cooler" in d)
    assert "cold" in cooler and "camping" in cooler
    jacket = [d for d in goods.description if "down jacket" in d]
    assert all("warm" in d and "winter" in d for d in jacket)
    assert len(set(goods.sku)) == len(goods.sku)
    assert all(d.endswith(".") and "  " not in d for d in goods.description)


def test_split_keeps_every_row_and_a_minimum() -> None:
    counts = params.split(30, np.array([0.5, 0.3, 0.15, 0.05]), least=2)
    assert counts.sum() == 30 and counts.min() >= 2
    assert params.split(7, np.array([1.0, 1.0])).tolist() in ([4, 3], [3, 4])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scale": "huge"}, "Unknown scale 'huge'. Pick one of: tiny, lab, large"),
        ({"customers": -1}, "customers must be a whole number of at least 4"),
        ({"products": 10}, "products must be a whole number of at least 28"),
        ({"transactions": -5}, "transactions must be a whole number of at least 0"),
    ],
)
def test_bad_counts_say_what_to_do(arguments: dict, message: str) -> None:
    with pytest.raises(LabError) as caught:
        params.counts(**arguments)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_negative_seed_is_refused() -> None:
    with pytest.raises(LabError, match="seed must be a whole number"):
        params.check_seed(-1)


@pytest.mark.parametrize("count", [500, 5_000])
def test_product_names_are_unique_in_each_store_and_the_same_for_the_same_seed(count: int) -> None:
    made = products.generate(np.random.default_rng(42), count)
    names = list(zip(made.store.tolist(), made.name, strict=True))
    assert len(set(names)) == count, "two products of one store share a name"
    assert products.generate(np.random.default_rng(42), count).name == made.name


def test_money_keeps_its_inputs_and_never_overflows_narrow_integers() -> None:
    """int32 inputs (numpy's default integer on some platforms) are widened first:
    3 x $10,000,000.00 is 3,000,000,000 cents, past int32's 2,147,483,647."""
    narrow = np.int32
    lines = money.lines(np.array([3], narrow), np.array([10**9], narrow), np.array([10], narrow), 8)
    assert lines.quantity.tolist() == [3] and lines.unit_price.tolist() == [10**9]
    assert lines.gross.tolist() == [3 * 10**9]
    assert lines.discount.tolist() == [3 * 10**8]
    assert money.percent_of(np.array([2 * 10**9], narrow), 8).tolist() == [16 * 10**7]


def test_money_totals_of_no_transactions_are_empty() -> None:
    none = np.array([], dtype=np.int64)
    totals = money.totals(money.lines(none, none, none, 8), none)
    for column in (totals.subtotal, totals.discount, totals.tax, totals.total):
        assert column.dtype == np.int64 and column.tolist() == []


def test_money_totals_of_one_transaction() -> None:
    lines = money.lines(np.array([1, 2]), np.array([500, 250]), np.array([0, 10]), 8)
    totals = money.totals(lines, np.array([0]))
    assert (totals.subtotal.tolist(), totals.discount.tolist()) == ([1000], [50])
    assert totals.total.tolist() == [1000 - 50 + totals.tax[0]] and totals.tax.tolist() == [76]
