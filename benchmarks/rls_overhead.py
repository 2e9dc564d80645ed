"""What row-level security adds to the stores' typical queries.

Each query runs for each store two ways, on the same throw-away server and data:
as mcp_user, with the policy doing the filtering (the query names no store), and
as the superuser, who bypasses RLS, with the store filter written out. The
baseline is the explicit filter; the overhead is policy p50 / explicit p50 - 1.

    python benchmarks/rls_overhead.py [--scales lab,large] [--runs N] [--record]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

from harness import throwaway_server
from record import record

import labkit
from labkit import contract, perf, sampledata

# name -> (query under the policy, the same with the store written out as %(store)s)
QUERIES: dict[str, tuple[str, str]] = {
    "a store's sales by day": (
        "SELECT date_trunc('day', transaction_date), sum(total_amount) FROM retail.sales_transactions"
        " GROUP BY 1 ORDER BY 1",
        "SELECT date_trunc('day', transaction_date), sum(total_amount) FROM retail.sales_transactions"
        " WHERE store_id = %(store)s GROUP BY 1 ORDER BY 1",
    ),
    "top products": (
        "SELECT p.product_name, sum(i.quantity) FROM retail.sales_transaction_items i"
        " JOIN retail.products p USING (product_id) GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
        "SELECT p.product_name, sum(i.quantity) FROM retail.sales_transaction_items i"
        " JOIN retail.products p USING (product_id) WHERE i.store_id = %(store)s"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    ),
    "a customer's history": (
        "SELECT t.transaction_date, t.total_amount, i.quantity, i.total_price"
        " FROM retail.sales_transactions t JOIN retail.sales_transaction_items i USING (transaction_id)"
        " WHERE t.customer_id = %(customer)s ORDER BY 1 DESC",
        "SELECT t.transaction_date, t.total_amount, i.quantity, i.total_price"
        " FROM retail.sales_transactions t JOIN retail.sales_transaction_items i USING (transaction_id)"
        " WHERE t.customer_id = %(customer)s AND t.store_id = %(store)s ORDER BY 1 DESC",
    ),
}


def measure(scale: str, runs: int) -> list[tuple[str, float, float, float]]:
    """(query, policy p50 ms, explicit p50 ms, overhead %) at one scale, over all stores."""
    print(sampledata.seed(scale, seed=7, quiet=True))
    rows = []
    with labkit.connect(autocommit=True) as admin:
        admin.execute("VACUUM ANALYZE")
        for name, (policy_sql, explicit_sql) in QUERIES.items():
            policy_ms, explicit_ms = [], []
            for store in contract.STORES:
                customer = admin.execute(
                    "SELECT customer_id FROM retail.sales_transactions WHERE store_id = %s"
                    " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
                    (store,),
                ).fetchone()[0]
                params = {"store": store, "customer": customer}
                with labkit.as_store(store) as conn:
                    policy = perf.time_query(conn, policy_sql, params, runs=runs)
                explicit = perf.time_query(admin, explicit_sql, params, runs=runs)
                policy_ms.append(policy.p50)
                explicit_ms.append(explicit.p50)
            p, e = statistics.fmean(policy_ms), statistics.fmean(explicit_ms)
            rows.append((name, p, e, (p / e - 1) * 100))
    return rows


def report(results: dict[str, list[tuple[str, float, float, float]]], runs: int) -> str:
    lines = [
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; p50 of {runs} runs per store, averaged over the 4 stores.",
        "Target: at most 10% over the explicit filter.",
        "",
        "| scale | query | policy, mcp_user (ms) | explicit WHERE, superuser (ms) | overhead |",
        "|---|---|---:|---:|---:|",
    ]
    for scale, rows in results.items():
        for name, policy, explicit, overhead in rows:
            lines.append(f"| {scale} | {name} | {policy:.3f} | {explicit:.3f} | {overhead:+.1f}% |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="lab,large")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args()
    with throwaway_server():
        labkit.setup()
        results = {scale: measure(scale, args.runs) for scale in args.scales.split(",")}
    text = report(results, args.runs)
    print(text)
    if args.record:
        print(
            f"\nRecorded in {record('Row-level security overhead (`benchmarks/rls_overhead.py`)', text)}"
        )


if __name__ == "__main__":
    main()
