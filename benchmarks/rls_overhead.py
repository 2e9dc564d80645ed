"""What row-level security adds to the stores' typical queries.

Each query runs for each store two ways, on the same throw-away server and data:
as mcp_user, with the policy doing the filtering (the query names no store), and
as the superuser, who bypasses RLS, with the store filter written out. The
baseline is the explicit filter; the overhead is policy p50 / explicit p50 - 1.

    python benchmarks/rls_overhead.py [--scales lab,large] [--runs N] [--record]
"""

from __future__ import annotations

import os
import platform
import statistics

from harness import arguments, publish, throwaway_server

import labkit
from labkit import bulk, contract, perf, sampledata

VECTOR_QUERY = (
    "SELECT e.product_id FROM retail.product_embeddings AS e"
    " JOIN retail.products AS p ON p.store_id = e.store_id AND p.product_id = e.product_id"
    " WHERE e.embedding_model = 'all-MiniLM-L6-v2-int8' AND p.is_active{store}"
    " ORDER BY e.embedding::vector(384) <=> %(vector)s::vector(384) LIMIT 10"
)
#: Turns per store and query; each turn times ``--runs`` runs of each side.
ROUNDS = 10
HNSW_SETTINGS = ("SET hnsw.iterative_scan = relaxed_order", "SET hnsw.ef_search = 100")

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
    # retail.search_products_by_similarity's own query (sql/05), run directly on both
    # sides with the function's hnsw settings. The function writes the verified store
    # into its query (the planner must see it to pick that store's own HNSW graph),
    # so both sides name the store: what differs is the policy on the two tables.
    "vector search (top 10)": (VECTOR_QUERY.format(store=" AND e.store_id = %(store)s"),) * 2,
}
#: One unit vector per product, in 384 dimensions, as the offline model's rows: the
#: overhead of the policy does not depend on what the vectors mean.
EMBED = """
    INSERT INTO retail.product_embeddings (product_id, store_id, embedding_text, embedding, embedding_model)
    SELECT p.product_id, p.store_id, p.product_name,
           l2_normalize(array(SELECT random() - 0.5 FROM generate_series(1, 384) WHERE p.product_id IS NOT NULL)
                        ::vector(384)),
           'all-MiniLM-L6-v2-int8'
    FROM retail.products AS p
"""


def _embed_products() -> None:
    with labkit.connect(contract.OWNER_ROLE) as owner, bulk.bulk_load(owner):
        owner.execute("SELECT setseed(0.7)")
        owner.execute(EMBED)


def measure(scale: str, runs: int) -> list[tuple[str, float, float, float]]:
    """(query, policy p50 ms, explicit p50 ms, overhead %) at one scale, over all stores."""
    print(sampledata.seed(scale, seed=7, quiet=True))
    _embed_products()
    rows = []
    with labkit.connect(autocommit=True) as admin:
        admin.execute("VACUUM ANALYZE")
        for setting in HNSW_SETTINGS:
            admin.execute(setting)
        for name, (policy_sql, explicit_sql) in QUERIES.items():
            policy_ms, explicit_ms = [], []
            for store in contract.STORES:
                customer = admin.execute(
                    "SELECT customer_id FROM retail.sales_transactions WHERE store_id = %s"
                    " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
                    (store,),
                ).fetchone()[0]
                (vector,) = admin.execute(
                    "SELECT embedding::text FROM retail.product_embeddings WHERE store_id = %s LIMIT 1",
                    (store,),
                ).fetchone()
                params = {"store": store, "customer": customer, "vector": vector}
                policy_times: list[float] = []
                explicit_times: list[float] = []
                with labkit.as_store(store) as conn:
                    for setting in HNSW_SETTINGS:
                        conn.execute(setting.replace("SET", "SET LOCAL"))
                    # Short turns, alternating which side goes first, so that a burst
                    # of load from elsewhere lands on both sides alike.
                    for turn in range(ROUNDS):
                        sides = [
                            (conn, policy_sql, policy_times),
                            (admin, explicit_sql, explicit_times),
                        ]
                        for side, query, times in sides[:: 1 if turn % 2 else -1]:
                            times += perf.time_query(side, query, params, runs=runs, warmup=1).ms
                policy_ms.append(statistics.median(policy_times))
                explicit_ms.append(statistics.median(explicit_times))
            p, e = statistics.fmean(policy_ms), statistics.fmean(explicit_ms)
            rows.append((name, p, e, (p / e - 1) * 100))
    return rows


def context_check_us(rounds: int = 400) -> float:
    """What one policy's InitPlan adds to a statement, in microseconds: the median of
    ``SELECT (SELECT retail.current_store_id())`` minus that of ``SELECT 1``, as
    mcp_user in a store's transaction, alternating the two."""
    with labkit.as_store(next(iter(contract.STORES))) as conn:
        checked = "SELECT (SELECT retail.current_store_id())"
        times: dict[str, list[float]] = {"SELECT 1": [], checked: []}
        for _ in range(rounds):
            for query, spent in times.items():
                spent += perf.time_query(conn, query, runs=1, warmup=0).ms
    return (statistics.median(times[checked]) - statistics.median(times["SELECT 1"])) * 1000


def report(
    results: dict[str, list[tuple[str, float, float, float]]], runs: int, check_us: float
) -> str:
    lines = [
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; p50 of {ROUNDS} turns of {runs} runs per store"
        " (the two sides alternate turns), averaged over the 4 stores.",
        "Target: at most 10% over the explicit filter.",
        "",
        "| scale | query | policy, mcp_user (ms) | explicit WHERE, superuser (ms) | overhead |",
        "|---|---|---:|---:|---:|",
    ]
    for scale, rows in results.items():
        for name, policy, explicit, overhead in rows:
            lines.append(f"| {scale} | {name} | {policy:.3f} | {explicit:.3f} | {overhead:+.1f}% |")
    lines += [
        "",
        "Each table under the policy reads the store once per statement, in an InitPlan: "
        "retail.current_store_id() verifies the signed context (sql/04, verified_store_id). "
        f"One such check adds {check_us:.0f} us to a statement here "
        "(SELECT (SELECT retail.current_store_id()) against SELECT 1, as mcp_user); the "
        "vector search joins two tables under the policy, so it pays twice.",
        f"Load average at the end: {os.getloadavg()[0]:.1f}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--scales", default="lab,large")
    parser.add_argument("--runs", type=int, default=10, help="runs per side in each turn")
    args = parser.parse_args()

    def measure_all() -> str:
        with throwaway_server():
            labkit.setup()
            results = {scale: measure(scale, args.runs) for scale in args.scales.split(",")}
            check_us = context_check_us()
        return report(results, args.runs, check_us)

    publish(
        "Row-level security overhead (`benchmarks/rls_overhead.py`)",
        measure_all,
        record_it=args.record,
    )


if __name__ == "__main__":
    main()
