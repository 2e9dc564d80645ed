"""labkit.perf's plan and timing figures, without a database: a known plan in, the
numbers and text a reader relies on out."""

from __future__ import annotations

from labkit.perf import Plan, Timings

RAW = {
    "Plan": {
        "Node Type": "Aggregate",
        "Actual Rows": 1,
        "Actual Loops": 1,
        "Actual Total Time": 2.5,
        "Shared Hit Blocks": 7,
        "Plans": [
            {
                "Node Type": "Index Scan",
                "Relation Name": "sales",
                "Index Name": "sales_store_idx",
                "Actual Rows": 40,
                "Actual Loops": 1,
                "Actual Total Time": 2.0,
                "Shared Hit Blocks": 5,
                "Shared Read Blocks": 2,
            },
            {"Node Type": "Seq Scan", "Relation Name": "stores", "Actual Rows": 4},
        ],
    },
    "Planning Time": 0.125,
    "Execution Time": 3.25,
}


def test_a_plan_is_walked_parents_first_with_depths() -> None:
    plan = Plan(RAW)
    assert [(depth, node["Node Type"]) for depth, node in plan.walk()] == [
        (0, "Aggregate"),
        (1, "Index Scan"),
        (1, "Seq Scan"),
    ]
    assert (plan.planning_ms, plan.execution_ms) == (0.125, 3.25)
    assert Plan({"Plan": {"Node Type": "Result"}}).execution_ms == 0.0
    assert Plan({"Plan": {"Node Type": "Result"}}).planning_ms == 0.0


def test_the_nodes_frame_has_one_row_per_node() -> None:
    nodes = Plan(RAW).nodes
    assert nodes["node"].tolist() == ["Aggregate", "Index Scan", "Seq Scan"]
    assert nodes["depth"].tolist() == [0, 1, 1]
    assert nodes.loc[1].to_dict() == {
        "depth": 1,
        "node": "Index Scan",
        "relation": "sales",
        "index": "sales_store_idx",
        "rows": 40,
        "loops": 1,
        "total_ms": 2.0,
        "shared_hit": 5,
        "shared_read": 2,
    }


def test_index_use_is_found_by_any_or_by_name() -> None:
    plan = Plan(RAW)
    assert plan.uses_index() and plan.uses_index("sales_store_idx")
    assert not plan.uses_index("other_idx")
    assert not Plan({"Plan": {"Node Type": "Seq Scan", "Index Name": "x"}}).uses_index("x")


def test_the_text_indents_children_and_ends_with_the_times() -> None:
    assert str(Plan(RAW)).splitlines() == [
        "Aggregate  (rows=1 loops=1 time=2.5 ms hit=7 read=0)",
        "  Index Scan on sales using sales_store_idx  (rows=40 loops=1 time=2.0 ms hit=5 read=2)",
        "  Seq Scan on stores  (rows=4 loops=None time=None ms hit=0 read=0)",
        "Planning 0.125 ms, execution 3.250 ms",
    ]


def test_percentiles_of_the_timings() -> None:
    timings = Timings(tuple(float(ms) for ms in range(1, 21)))
    assert timings.p50 == 10.5
    assert timings.p95 == 19.0
    assert Timings((5.0,)).p95 == 5.0 and Timings((1.0, 9.0)).p95 == 9.0
