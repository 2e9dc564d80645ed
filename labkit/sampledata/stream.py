"""Streaming a table to the server with ``COPY ... FROM STDIN``.

A thread formats the rows chunk by chunk (numpy, so it mostly runs outside the
GIL) while the connection sends the previous chunk and the server stores it. A
few chunks are formatted ahead, no more, so memory stays small however large
the table, and the progress bar counts rows the server has been sent.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from .. import contract
from . import copybinary, copytext
from .tables import Table

#: Rows formatted and sent at a time: big enough for numpy, small enough to
#: keep the server busy while the next chunk is formatted.
CHUNK_ROWS = 50_000
#: Chunks formatted ahead of the one being sent.
AHEAD = 3


def _formatted(table: Table, stop: threading.Event, ready: queue.Queue[Any]) -> None:
    """Format ``table`` chunk by chunk into ``ready`` (then None); an error is
    handed over too. Runs in a thread, so numpy formats the next chunk while
    the connection sends this one."""

    def hand_over(item: Any) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    encode = copybinary.rows if table.binary else copytext.rows
    try:
        for start in range(0, table.rows, CHUNK_ROWS):
            if stop.is_set():
                return
            chunk = slice(start, min(start + CHUNK_ROWS, table.rows))
            hand_over((encode(table.fields(chunk)), chunk.stop - chunk.start))
        hand_over(None)
    except BaseException as error:  # handed to copy_rows, which raises it
        hand_over(error)


def copy_rows(conn: psycopg.Connection[Any], table: Table, advance: Callable[[int], Any]) -> None:
    """COPY one table; a few chunks are formatted ahead, no more (memory stays
    small however large the table)."""
    # FREEZE: the tables were emptied in this transaction, so rows can be
    # written already frozen, and no later VACUUM has to visit them for that.
    options = "FORMAT binary, FREEZE" if table.binary else "FREEZE"
    statement = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
        sql.Identifier(contract.SCHEMA, table.name),
        sql.SQL(", ").join(map(sql.Identifier, table.columns)),
        sql.SQL(options),
    )
    stop, ready = threading.Event(), queue.Queue[Any](maxsize=AHEAD)
    worker = threading.Thread(target=_formatted, args=(table, stop, ready), daemon=True)
    worker.start()
    try:
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            if table.binary:
                copy.write(copybinary.HEADER)
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                copy.write(item[0])
                advance(item[1])
            if table.binary:
                copy.write(copybinary.TRAILER)
    finally:
        stop.set()
        worker.join()
