"""Money, in integer cents: what subtotal, discount, tax and total mean.

For each line (``sales_transaction_items``)::

    gross            = quantity * unit_price
    discount_amount  = round(gross * discount_percent / 100)   (0 without a discount)
    total_price      = gross - discount_amount                 (the line before tax)
    tax_amount       = round(total_price * 8 / 100)

For each transaction (``sales_transactions``), over its lines::

    subtotal         = sum of gross              (the goods at their unit prices)
    discount_amount  = sum of discount_amount
    tax_amount       = sum of tax_amount         (tax is rounded per line, so lines add up)
    total_amount     = subtotal - discount_amount + tax_amount
                     = sum of (total_price + tax_amount)

Rounding is half up to the cent, in integer arithmetic: no float ever holds
money, so the sums are exact and the schema's CHECK constraints
(``total_price = quantity * unit_price - discount_amount`` on a line,
``total_amount = subtotal - discount_amount + tax_amount`` on a transaction) hold.

Amounts are never negative; ``transaction_type`` says which way money moves:

- ``sale``: the customer pays ``total_amount`` for the goods in the lines.
- ``return``: the store refunds ``total_amount`` for the goods in the lines,
  which come back.
- ``exchange``: goods are swapped for the same value (another size or color).
  The lines list the goods handed over and the amounts are their value, paid
  with the goods taken back, so no money changes hands.

So revenue is the sum of sales' ``total_amount`` minus that of returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .copytext import Ints


def percent_of(cents: Ints, percent: Ints | int) -> Ints:
    """``cents * percent / 100`` rounded half up, for amounts of 0 or more."""
    return (np.asarray(cents, dtype=np.int64) * percent + 50) // 100


@dataclass
class Lines:
    quantity: Ints
    unit_price: Ints
    gross: Ints
    discount: Ints
    total_price: Ints
    tax: Ints


@dataclass
class Totals:
    subtotal: Ints
    discount: Ints
    tax: Ints
    total: Ints


def lines(quantity: Ints, unit_price: Ints, discount_percent: Ints, tax_percent: int) -> Lines:
    gross = np.asarray(quantity, dtype=np.int64) * np.asarray(unit_price, dtype=np.int64)
    discount = percent_of(gross, np.asarray(discount_percent, dtype=np.int64))
    total_price = gross - discount
    return Lines(
        quantity, unit_price, gross, discount, total_price, percent_of(total_price, tax_percent)
    )


def totals(line: Lines, first_line: Ints) -> Totals:
    """Sums per transaction; ``first_line[t]`` is where transaction t's lines
    start (each has at least one, and lines are grouped by transaction)."""
    if len(first_line) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Totals(empty, empty, empty, empty)
    subtotal = np.add.reduceat(line.gross, first_line)
    discount = np.add.reduceat(line.discount, first_line)
    tax = np.add.reduceat(line.tax, first_line)
    return Totals(subtotal, discount, tax, subtotal - discount + tax)
