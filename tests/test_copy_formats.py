"""The seed's COPY encoders, read back by the server: what PostgreSQL stores is
compared with values computed here by the standard library (uuid, Decimal,
datetime), not with the encoders' own arithmetic. Edge cases: NULL next to the
empty string, COPY's escapes, zero, the widest values, chunks and repeated rows."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from labkit.sampledata import copybinary, copytext
from labkit.sampledata.copytext import Field

UTC = dt.UTC
EPOCH = dt.date(1970, 1, 1)
TEXTS = ["a\tb", "back\\slash", "new\nline", "cr\rx", "ünïcode", "", None]
SECONDS = np.array([0, 946_684_800, 1_700_000_123, 4_102_444_799, 86_399, 1, 59])
DAYS = np.array([0, 10_957, 19_999, -1, 365, 31, 2_932_896])
CENTS = np.array([0, 1, 99, 100, 12_345_678_90, 99_999_999_99, 10_000_00])
CODES = np.array([2, 0, 1, 2, 0, 3, 1])
VOCABULARY = ["tab\there", None, "plain", ""]
MILLISECONDS = np.array([0, 1, 1, 1_700_000_000_000, 1_700_000_000_001, 2**47, 253_402_300_799_999])


def _read_back(
    conn: psycopg.Connection, columns: list[str], data: bytes, binary: bool
) -> list[tuple]:
    """COPY ``data`` into a temporary table of ``columns`` ("name type" each) and
    return its rows in order."""
    with conn.transaction(force_rollback=True):
        definitions = sql.SQL(", ".join(columns))  # the tests' own constants
        conn.execute(sql.SQL("CREATE TEMP TABLE copied (n serial, {})").format(definitions))
        listed = sql.SQL(", ").join(sql.Identifier(column.split()[0]) for column in columns)
        statement = sql.SQL("COPY copied ({}) FROM STDIN {}").format(
            listed, sql.SQL("(FORMAT binary)" if binary else "")
        )
        with conn.cursor().copy(statement) as copy:
            copy.write(copybinary.HEADER + data + copybinary.TRAILER if binary else data)
        return conn.execute(sql.SQL("SELECT {} FROM copied ORDER BY n").format(listed)).fetchall()


def _uuids(raw: np.ndarray) -> list[uuid.UUID]:
    return [uuid.UUID(bytes=bytes(row)) for row in raw]


def _seconds(values: np.ndarray) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(int(s), UTC) for s in values]


def _days(values: np.ndarray) -> list[dt.date]:
    return [EPOCH + dt.timedelta(days=int(d)) for d in values]


def _nulled(values: list[Any], null: np.ndarray) -> list[Any]:
    """``values`` with None where ``null`` is true."""
    return [None if n else v for v, n in zip(values, null, strict=True)]


def _columns(*values: list[Any]) -> list[tuple]:
    return list(zip(*values, strict=True))


@pytest.fixture
def raw_uuids() -> np.ndarray:
    return np.frombuffer(np.random.default_rng(3).bytes(16 * 7), dtype=np.uint8).reshape(7, 16)


def test_text_format_round_trips_every_kind_of_column(
    admin: psycopg.Connection, raw_uuids: np.ndarray
) -> None:
    integers = np.array([0, 7, 123, 2_147_483_647, 10, 99, 100])
    null = np.array([False, True, False, False, True, False, False])
    fields = [
        copytext.uuids(raw_uuids),
        copytext.integers(integers),
        copytext.with_nulls(copytext.integers(integers, width=12), null),
        copytext.decimals(CENTS),
        copytext.decimals(CENTS, scale=3),
        copytext.timestamps(SECONDS),
        copytext.dates(DAYS),
        copytext.booleans(np.array([True, False, False, True, True, False, True])),
        copytext.texts(TEXTS),
        copytext.with_nulls(copytext.texts(["x", "y", "z", "", "w", "v", "u"]), null),
        copytext.choices(CODES, VOCABULARY),
    ]
    columns = [
        "id uuid",
        "i int4",
        "nullable int8",
        "price numeric(12, 2)",
        "grams numeric(12, 3)",
        "at timestamptz",
        "day date",
        "yes boolean",
        "words text",
        "maybe text",
        "pick text",
    ]
    expected = _columns(
        _uuids(raw_uuids),
        integers.tolist(),
        _nulled(integers.tolist(), null),
        [Decimal(int(c)) / 100 for c in CENTS],
        [Decimal(int(c)) / 1000 for c in CENTS],
        _seconds(SECONDS),
        _days(DAYS),
        [True, False, False, True, True, False, True],
        TEXTS,
        _nulled(["x", "y", "z", "", "w", "v", "u"], null),
        [VOCABULARY[c] for c in CODES],
    )
    assert _read_back(admin, columns, copytext.rows(fields), binary=False) == expected


def test_binary_format_round_trips_every_kind_of_column(
    admin: psycopg.Connection, raw_uuids: np.ndarray
) -> None:
    int4s = np.array([0, -5, 2_147_483_647, -2_147_483_648, 1, 256, 65_536])
    null = np.array([True, False, False, True, False, False, False])
    documents = ['{"a": 1}', None, "[1, 2]", '"ü"']
    fields = [
        copybinary.uuids(raw_uuids),
        copybinary.int4(int4s),
        copybinary.with_nulls(copybinary.int4(int4s), null),
        copybinary.numeric(CENTS),
        copybinary.timestamptz(SECONDS),
        copybinary.dates(DAYS),
        copybinary.texts(TEXTS),
        copybinary.with_nulls(copybinary.texts(["x", "y", "", "z", "w", "v", "u"]), null),
        copybinary.choices(CODES, VOCABULARY),
        copybinary.choices(CODES, documents, prefix=b"\x01"),
    ]
    columns = [
        "id uuid",
        "i int4",
        "maybe int4",
        "price numeric(10, 2)",
        "at timestamptz",
        "day date",
        "words text",
        "maybe_words text",
        "pick text",
        "doc jsonb",
    ]
    expected = _columns(
        _uuids(raw_uuids),
        int4s.tolist(),
        _nulled(int4s.tolist(), null),
        [Decimal(int(c)) / 100 for c in CENTS],
        _seconds(SECONDS),
        _days(DAYS),
        TEXTS,
        _nulled(["x", "y", "", "z", "w", "v", "u"], null),
        [VOCABULARY[c] for c in CODES],
        [None if documents[c] is None else json.loads(documents[c]) for c in CODES],
    )
    assert _read_back(admin, columns, copybinary.rows(fields), binary=True) == expected


def test_binary_numeric_reads_as_exact_amounts(admin: psycopg.Connection) -> None:
    # The field's header says weight 1 and scale 2; in a numeric column with no
    # type modifier to round it, the server's own sum and text form show both.
    with admin.transaction(force_rollback=True):
        admin.execute("CREATE TEMP TABLE amounts (price numeric)")
        with admin.cursor().copy("COPY amounts FROM STDIN (FORMAT binary)") as copy:
            copy.write(copybinary.HEADER)
            copy.write(copybinary.rows([copybinary.numeric(CENTS)]))
            copy.write(copybinary.TRAILER)
        found = admin.execute(
            "SELECT sum(price), min(price)::text, max(price)::text FROM amounts"
        ).fetchone()
    assert found == (sum(Decimal(int(c)) / 100 for c in CENTS), "0.00", "99999999.99")


def test_uuid7s_keep_their_time_and_sort_with_it(admin: psycopg.Connection) -> None:
    raw = copytext.uuid7s(np.random.default_rng(5), MILLISECONDS)
    rows = _read_back(
        admin,
        ["id uuid"],
        copytext.rows([copytext.uuids(raw)]),
        binary=False,
    )
    ids = [row[0] for row in rows]
    # PostgreSQL 18 reads a version-7 UUID's time itself.
    times = admin.execute(
        "SELECT uuid_extract_version(u), uuid_extract_timestamp(u) FROM unnest(%s::uuid[]) AS u",
        (ids,),
    ).fetchall()
    assert times == [
        (7, dt.datetime.fromtimestamp(0, UTC) + dt.timedelta(milliseconds=int(ms)))
        for ms in MILLISECONDS
    ]
    assert all(u.variant == uuid.RFC_4122 for u in ids)
    assert [u.bytes[:6] for u in ids] == sorted(u.bytes[:6] for u in ids)


@pytest.mark.parametrize("encoder", [copytext, copybinary], ids=["text", "binary"])
def test_chunks_and_repeated_rows_make_the_same_table(
    admin: psycopg.Connection, encoder: Any, raw_uuids: np.ndarray
) -> None:
    fields: list[Field] = [encoder.uuids(raw_uuids), encoder.texts(TEXTS)]
    whole = encoder.rows(fields)
    chunked = b"".join(
        encoder.rows([field.take(slice(start, start + 3)) for field in fields])
        for start in range(0, 7, 3)
    )
    assert chunked == whole
    picked = np.array([6, 0, 0, 3])
    repeated = _read_back(
        admin,
        ["id uuid", "words text"],
        encoder.rows([field.take(picked) for field in fields]),
        binary=encoder is copybinary,
    )
    assert repeated == [(_uuids(raw_uuids)[i], TEXTS[i]) for i in picked]


def test_fixed_width_columns_alone_are_one_block(
    admin: psycopg.Connection, raw_uuids: np.ndarray
) -> None:
    # Only fixed-width fields: rows() takes concat's single-block path.
    fields = [copytext.uuids(raw_uuids), copytext.integers(np.arange(7) * 1_000)]
    data = copytext.rows(fields)
    assert len(data) == 7 * (36 + 1 + 4 + 1)
    rows = _read_back(admin, ["id uuid", "i int4"], data, binary=False)
    assert rows == _columns(_uuids(raw_uuids), [i * 1_000 for i in range(7)])


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_no_rows_make_no_bytes(admin: psycopg.Connection, binary: bool) -> None:
    # A seed with no transactions writes empty tables.
    none = np.array([], dtype=np.int64)
    if binary:
        fields = [copybinary.int4(none), copybinary.texts([]), copybinary.choices(none, ["a"])]
    else:
        fields = [copytext.integers(none), copytext.texts([]), copytext.decimals(none)]
    data = (copybinary if binary else copytext).rows(fields)
    assert data == b""
    assert _read_back(admin, ["i int4", "t text", "x text"], data, binary) == []


def test_negative_integers_and_unordered_times_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        copytext.integers(np.array([1, -1]))
    with pytest.raises(ValueError, match="time order"):
        copytext.uuid7s(np.random.default_rng(0), np.array([2, 1]))
