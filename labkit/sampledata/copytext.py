"""Rows for ``COPY ... FROM STDIN`` in text format, built with numpy, not row by row.

Every column becomes a :class:`Field`: a matrix of bytes with one row per table
row and, for text of varying length, each row's length. :func:`rows` joins the
fields with tabs and the rows with newlines into one buffer. Numbers are written
zero-padded to the widest value of their column (``int4in`` and ``numeric_in``
read leading zeros), so numbers, UUIDs and timestamps are fixed-width and a table
made only of them is one 2-D array filled column by column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Bytes = NDArray[np.uint8]
Ints = NDArray[np.int64]

NULL = "\\N"
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where the 32 hex digits of a UUID go in its 36 characters (dashes in between).
_UUID_DIGITS = np.r_[0:8, 9:13, 14:18, 19:23, 24:36]
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class Field:
    """One column as bytes: ``data[i, :lengths[i]]`` is row i (all of ``data[i]``
    when ``lengths`` is None, a fixed-width column)."""

    data: Bytes
    lengths: Ints | None = None

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def take(self, index: Ints | slice) -> Field:
        """The rows at ``index``: a slice for a chunk, or an array to repeat rows."""
        return Field(self.data[index], None if self.lengths is None else self.lengths[index])


def uuid7s(rng: np.random.Generator, unix_ms: Ints) -> Bytes:
    """Version-7 UUIDs (RFC 9562), 16 bytes each: the row's time in milliseconds,
    then 74 random bits from ``rng`` (so a seed fixes them). Rows come in time
    order, and so do their keys (within a millisecond, in any order).

    Like PostgreSQL 18's ``uuidv7()``, keys made in time order land at the right
    edge of the B-tree, where random version-4 keys hit any page of it.
    """
    unix_ms = np.asarray(unix_ms, dtype=np.int64)
    if np.any(np.diff(unix_ms) < 0):
        raise ValueError("uuid7s() needs the rows in time order")
    n = len(unix_ms)
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    shifts = np.arange(40, -8, -8, dtype=np.int64)
    raw[:, :6] = ((unix_ms[:, None] >> shifts) & 0xFF).astype(np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70  # version 7
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 9562 variant
    return raw


def uuids(raw: Bytes) -> Field:
    """UUIDs in their canonical 36-character text form."""
    digits = np.empty((raw.shape[0], 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    text = np.full((raw.shape[0], 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_DIGITS] = digits
    return Field(text)


def _digits(values: Ints, width: int) -> Bytes:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


def integers(values: Ints, width: int = 1) -> Field:
    """Non-negative integers, zero-padded to the widest in the column (or ``width``)."""
    values = np.asarray(values, dtype=np.int64)
    if values.size and values.min() < 0:
        raise ValueError("integers() writes non-negative values only")
    widest = len(str(int(values.max()))) if values.size else 1
    return Field(_digits(values, max(width, widest)))


def decimals(units: Ints, scale: int = 2) -> Field:
    """Fixed-point numbers from integers in units of 10**-scale (cents for 2)."""
    units = np.asarray(units, dtype=np.int64)
    whole = integers(units // 10**scale).data
    point = np.full((len(units), 1), ord("."), dtype=np.uint8)
    return Field(np.hstack([whole, point, _digits(units % 10**scale, scale)]))


def timestamps(unix_seconds: Ints) -> Field:
    """``YYYY-MM-DD HH:MM:SS+00`` (UTC, whatever the session's TimeZone)."""
    text = np.datetime_as_string(np.asarray(unix_seconds, dtype="datetime64[s]"), unit="s")
    data = np.empty((len(text), 22), dtype=np.uint8)
    data[:, :19] = text.astype("S19").view(np.uint8).reshape(-1, 19)
    data[:, 10] = ord(" ")
    data[:, 19:] = np.frombuffer(b"+00", dtype=np.uint8)
    return Field(data)


def dates(days: Ints) -> Field:
    """``YYYY-MM-DD`` from days since 1970-01-01."""
    text = np.datetime_as_string(np.asarray(days, dtype="datetime64[D]"), unit="D")
    return Field(text.astype("S10").view(np.uint8).reshape(-1, 10).copy())


def booleans(values: NDArray[np.bool_]) -> Field:
    return Field(np.where(values, ord("t"), ord("f")).astype(np.uint8).reshape(-1, 1))


def texts(values: Sequence[str | None]) -> Field:
    """Any strings (None is NULL), escaped for COPY's text format."""
    encoded = [NULL.encode() if v is None else v.translate(_ESCAPES).encode() for v in values]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    width = max(1, int(lengths.max())) if len(encoded) else 1
    data = np.array(encoded, dtype=f"S{width}").view(np.uint8).reshape(-1, width)
    return Field(data, lengths)


def choices(codes: Ints, vocabulary: Sequence[str | None]) -> Field:
    """Row i is ``vocabulary[codes[i]]``: categories cost one lookup, not one string each."""
    words = texts(vocabulary)
    assert words.lengths is not None
    return Field(words.data[codes], words.lengths[codes])


def with_nulls(field: Field, null: NDArray[np.bool_]) -> Field:
    """``field`` with the rows where ``null`` is true written as NULL."""
    width = max(field.data.shape[1], len(NULL))
    data = np.zeros((len(field), width), dtype=np.uint8)
    data[:, : field.data.shape[1]] = field.data
    data[null, : len(NULL)] = np.frombuffer(NULL.encode(), dtype=np.uint8)
    lengths = np.full(len(field), field.data.shape[1]) if field.lengths is None else field.lengths
    return Field(data, np.where(null, len(NULL), lengths))


def constant(n: int, value: bytes) -> Field:
    """The same bytes on every row (a separator, a field count)."""
    return Field(np.broadcast_to(np.frombuffer(value, dtype=np.uint8), (n, len(value))))


def concat(fields: Sequence[Field]) -> bytes:
    """Each row's fields back to back, rows one after the other."""
    n = len(fields[0])
    # Runs of fixed-width fields become one block: fewer passes below.
    blocks: list[Field] = []
    for field in fields:
        if field.lengths is None and blocks and blocks[-1].lengths is None:
            blocks[-1] = Field(np.hstack([blocks[-1].data, field.data]))
        else:
            blocks.append(field)
    if len(blocks) == 1 and blocks[0].lengths is None:
        return np.ascontiguousarray(blocks[0].data).tobytes()
    sizes = sum(
        np.full(n, b.data.shape[1], dtype=np.int64) if b.lengths is None else b.lengths
        for b in blocks
    )
    cursor = np.cumsum(sizes) - sizes
    out = np.empty(int(np.sum(sizes)), dtype=np.uint8)
    for block in blocks:
        offsets = np.arange(block.data.shape[1], dtype=np.int64)
        if block.lengths is None:
            out[cursor[:, None] + offsets] = block.data
            cursor = cursor + block.data.shape[1]
        else:
            keep = offsets < block.lengths[:, None]
            out[(cursor[:, None] + offsets)[keep]] = block.data[keep]
            cursor = cursor + block.lengths
    return out.tobytes()


def rows(fields: Sequence[Field]) -> bytes:
    """The fields side by side, tab-separated, one line per row."""
    n = len(fields[0])
    tab, newline = constant(n, b"\t"), constant(n, b"\n")
    parts = [part for field in fields for part in (field, tab)]
    return concat([*parts[:-1], newline])
