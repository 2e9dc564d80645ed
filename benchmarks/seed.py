"""Seeding speed: ``labkit seed`` (numpy + COPY) against one INSERT per row.

Baseline, measured in the same run against the same server: the lab text's
method, one INSERT per row that waits for its answer, values made row by row
with Faker and ``random``, at the lab's counts (2,000 customers, 500 products,
5,000 transactions and their items). It uses psycopg's synchronous calls: the
same round trip per row as the lab text's awaited asyncpg calls, without an
event loop, so if anything it is faster than the lab text. Like the seed, it
writes as the owner inside ``labkit.bulk.bulk_load`` (row-level security and
audit lifted), in one transaction, rolled back at the end.

The bulk figures are end to end (drawing the data, connecting, COPY, keys,
audit rows, ANALYZE), on a fresh embedded server in a temporary folder, so your
own lab database is left alone.

The limits, also measured in the same run: a raw COPY of the very same rows (the
same bytes, formatted beforehand, so only sending and storing is timed) into
tables with no index, key, trigger or policy, created in the same transaction;
and the same COPY followed by building those tables' copies of the sample
tables' indexes and keys, once each, from the same definitions. The first is
what storing the rows costs, the second what storing them in tables ready to be
queried costs; the seed's ratio to each says how much drawing, formatting,
audit rows, ANALYZE and its own way of loading add. Each phase of the large
seed is listed.

    python benchmarks/seed.py [--rounds N] [--no-large] [--record]
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from decimal import Decimal

from faker import Faker
from harness import arguments, show, throwaway_server
from psycopg import sql

import labkit
from labkit import contract, sampledata
from labkit.bulk import bulk_load
from labkit.sampledata import copybinary, copytext, load, stream

CENT = Decimal("0.01")


def row_by_row(counts: sampledata.Counts, seed: int = 42) -> tuple[int, float]:
    """Rows written and seconds taken, one INSERT per row (rolled back)."""
    fake, rng = Faker("en_US"), random.Random(seed)
    fake.seed_instance(seed)
    stores = list(contract.STORES)
    with labkit.connect(contract.OWNER_ROLE) as conn:
        categories = [
            r[0] for r in conn.execute("SELECT category_id FROM retail.product_categories")
        ]
        with conn.transaction(force_rollback=True), bulk_load(conn, load.SAMPLE_TABLES):
            started, rows = time.perf_counter(), 0
            customers: dict[str, list] = {s: [] for s in stores}
            products: dict[str, list] = {s: [] for s in stores}
            for i in range(counts.customers):
                store = rng.choice(stores)
                (key,) = conn.execute(
                    "INSERT INTO retail.customers (store_id, first_name, last_name, email, phone,"
                    " date_of_birth, loyalty_tier) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " RETURNING customer_id",
                    (
                        store,
                        fake.first_name(),
                        fake.last_name(),
                        f"{i}.{fake.email()}",
                        fake.phone_number()[:20],
                        fake.date_of_birth(minimum_age=18),
                        rng.choices(["bronze", "silver", "gold", "platinum"], [50, 30, 15, 5])[0],
                    ),
                ).fetchone()
                customers[store].append(key)
            for i in range(counts.products):
                store, price = stores[i % len(stores)], Decimal(rng.randint(500, 50000)) * CENT
                (key,) = conn.execute(
                    "INSERT INTO retail.products (store_id, sku, product_name, product_description,"
                    " category_id, brand, price, cost) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " RETURNING product_id",
                    (
                        store,
                        f"BENCH-{i}",
                        fake.catch_phrase(),
                        fake.text(200),
                        rng.choice(categories),
                        fake.company(),
                        price,
                        price / 2,
                    ),
                ).fetchone()
                products[store].append((key, price))
            rows += counts.customers + counts.products
            for _ in range(counts.transactions):
                store = rng.choice(stores)
                lines = []
                for product, price in rng.sample(
                    products[store], rng.choices(range(1, 6), [40, 30, 20, 7, 3])[0]
                ):
                    quantity = rng.randint(1, 3)
                    total = price * quantity
                    lines.append(
                        (product, quantity, price, total, (total * Decimal("0.08")).quantize(CENT))
                    )
                subtotal, tax = sum(line[3] for line in lines), sum(line[4] for line in lines)
                (sale,) = conn.execute(
                    "INSERT INTO retail.sales_transactions (store_id, customer_id, transaction_date,"
                    " transaction_type, payment_method, subtotal, tax_amount, total_amount)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING transaction_id",
                    (
                        store,
                        rng.choice(customers[store]),
                        fake.date_time_this_year(),
                        rng.choices(["sale", "return", "exchange"], [90, 7, 3])[0],
                        rng.choice(["cash", "credit_card", "debit_card", "digital_wallet"]),
                        subtotal,
                        tax,
                        subtotal + tax,
                    ),
                ).fetchone()
                for product, quantity, price, total, line_tax in lines:
                    conn.execute(
                        "INSERT INTO retail.sales_transaction_items (transaction_id, product_id,"
                        " quantity, unit_price, total_price, tax_amount) VALUES (%s, %s, %s, %s, %s, %s)",
                        (sale, product, quantity, price, total, line_tax),
                    )
                rows += 1 + len(lines)
            return rows, time.perf_counter() - started


def raw_copy(counts: sampledata.Counts, seed: int = 42) -> tuple[int, float, float]:
    """Rows and seconds of a raw COPY of the seed's own rows into bare tables, and
    seconds to give those tables the sample tables' indexes and keys (rolled back).

    One table at a time, its bytes formatted before the clock starts, so memory
    holds one table's COPY data at most. Then the secondary indexes and the keys
    seeding rebuilds, from the same definitions, with the same memory: the least
    any load of these rows into tables ready to be queried can take.
    """
    build = sampledata.generate(counts, seed, dt.date.today())
    rows, seconds = 0, 0.0
    with labkit.connect() as conn, conn.transaction(force_rollback=True):
        conn.execute("CREATE SCHEMA bench_raw")
        # Read with retail on the path, a key names the tables it references bare:
        # they resolve to the copies, the reference tables (stores, categories) to
        # the lab's own.
        conn.execute("SELECT set_config('search_path', 'retail, pg_catalog', true)")
        indexes, keys = load.index_definitions(conn), load.key_definitions(conn)
        for table in build(load.category_ids(conn)):
            encode = copybinary.rows if table.binary else copytext.rows
            chunks = [
                encode(table.fields(slice(start, min(start + stream.CHUNK_ROWS, table.rows))))
                for start in range(0, table.rows, stream.CHUNK_ROWS)
            ]
            bare = sql.Identifier("bench_raw", table.name)
            like = sql.Identifier(contract.SCHEMA, table.name)
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE {})").format(bare, like))
            statement = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
                bare,
                sql.SQL(", ").join(map(sql.Identifier, table.columns)),
                sql.SQL("FORMAT binary, FREEZE" if table.binary else "FREEZE"),
            )
            started = time.perf_counter()
            with conn.cursor().copy(statement) as copy:
                if table.binary:
                    copy.write(copybinary.HEADER)
                for chunk in chunks:
                    copy.write(chunk)
                if table.binary:
                    copy.write(copybinary.TRAILER)
            seconds += time.perf_counter() - started
            rows += table.rows
            del chunks
        conn.execute("SELECT set_config('search_path', 'bench_raw, retail, pg_catalog', true)")
        conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (load.BUILD_MEMORY,))
        started = time.perf_counter()
        for _, definition in indexes:
            # pg_get_indexdef names the table with its schema whatever the search_path.
            conn.execute(sql.SQL(definition.replace(" ON retail.", " ON bench_raw.", 1)))
        for key in reversed(keys):  # primary and unique keys first, as seeding adds them
            if key[0] != load.KEPT_TABLE:  # not drawn, so not copied (seeding keeps it)
                load.add_key(conn, "bench_raw", key)
        building = time.perf_counter() - started
    return rows, seconds, building


def command_seconds(rounds: int) -> float:
    """Median wall time of the ``labkit seed --scale lab`` command, start to exit."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "labkit", "seed", "--scale", "lab", "--quiet"],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(rounds: int, large: bool) -> str:
    lab = sampledata.SCALES["lab"]
    baseline_rows, baseline_seconds = row_by_row(lab)
    reports = [sampledata.seed("lab", quiet=True) for _ in range(rounds)]
    lab_report = sorted(reports, key=lambda r: r.seconds)[len(reports) // 2]
    command = command_seconds(min(rounds, 3))
    results = [
        ("one INSERT per row, lab counts (baseline)", baseline_rows, baseline_seconds),
        (
            f"`sampledata.seed`, lab scale (median of {rounds})",
            lab_report.total_rows,
            lab_report.seconds,
        ),
    ]
    ratios: list[str] = []

    def limits(scale: str, seconds: float) -> None:
        """Add the two limits at ``scale`` to the results and the seed's ratios to them."""
        rows, copying, building = raw_copy(sampledata.SCALES[scale])
        results.append((f"raw COPY of the same rows, {scale} scale (the limit)", rows, copying))
        results.append(
            (
                f"raw COPY, then the same indexes and keys, {scale} scale (the limit, indexed)",
                rows,
                copying + building,
            )
        )
        ratios.append(
            f"{scale} scale {seconds / copying:.1f}x the raw COPY,"
            f" {seconds / (copying + building):.1f}x the raw COPY with its indexes and keys"
        )

    limits("lab", lab_report.seconds)
    phases = ""
    if large:
        big = sampledata.seed("large", quiet=True)
        results.append(("`sampledata.seed`, large scale", big.total_rows, big.seconds))
        limits("large", big.seconds)
        phases = "Large seed, by phase: " + ", ".join(
            f"{name} {seconds:.1f} s" for name, seconds in big.phases.items()
        )
    sampledata.seed("lab", quiet=True)
    with labkit.connect() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    base_rate = baseline_rows / baseline_seconds
    lines = [
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL {version} (embedded, fresh data folder).",
        "",
        "| method | rows | seconds | rows/s | rows/s vs baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rows, seconds in results:
        rate = rows / seconds
        lines.append(
            f"| {name} | {rows:,} | {seconds:.2f} | {rate:,.0f} | {rate / base_rate:.1f}x |"
        )
    lines += [
        "",
        f"Seed time over the limits: {'; '.join(ratios)} (target: at most 2x at the large scale).",
        *(["", phases] if phases else []),
        "",
        f"`labkit seed --scale lab`, the command end to end (interpreter start, imports, setup check, seed;"
        f" median of {min(rounds, 3)}): {command:.2f} s.",
        "",
        "Targets: lab scale at most 1.5 s end to end; large scale at most 60 s; at least 50x the"
        " baseline's rows/s.",
        f"Load average at the end: {os.getloadavg()[0]:.1f}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument(
        "--rounds", type=int, default=5, help="lab-scale seeds to take the median of"
    )
    parser.add_argument("--no-large", action="store_true", help="skip the million-transaction seed")
    args = parser.parse_args()
    with throwaway_server():
        labkit.setup()
        text = measure(max(1, args.rounds), large=not args.no_large)
    show("Seeding (`benchmarks/seed.py`)", text, record_it=args.record)


if __name__ == "__main__":
    main()
