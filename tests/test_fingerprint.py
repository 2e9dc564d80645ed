"""labkit.backup.fingerprint.compare, without a database: each kind of loss is found,
said in the report, and nothing is called lost that is not."""

from __future__ import annotations

import copy

import pytest

from labkit.backup import fingerprint
from labkit.backup.fingerprint import NO_STORE, Fingerprint, compare, loose

CHECK = "(x)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])"
REPRINTED = (
    "(x)::text = ANY (ARRAY[('a'::character varying)::text, ('b'::character varying)::text])"
)


def source() -> Fingerprint:
    return Fingerprint(
        tables={"retail.sales": [3, "aa"], "retail.stores": [2, "bb"]},
        schema={
            "constraints": [f"retail.sales sales_type_check CHECK ({CHECK})"],
            "indexes": ["CREATE INDEX i ON retail.sales USING hnsw (e)", "CREATE INDEX j ON t (x)"],
            "row security": ["retail.sales enabled=true forced=true"],
        },
        isolation={"retail.sales": {NO_STORE: 0, "north": 2, "south": 1}},
        search={"north": ["p1 0.9", "p2 0.8"], "south": ["p3 0.7"]},
    )


def test_a_copy_compares_equal_and_nothing_is_lost() -> None:
    report = compare(source(), source(), "a", "b")
    assert report.ok and report.differences == [] and report.not_checked == []
    assert [check.name for check in report.checks] == [
        "tables",
        *fingerprint.SCHEMA_CHECKS,
        "store isolation",
        "vector search",
    ]
    assert all(check.ok is True for check in report.checks)
    assert report.verdict == "nothing lost" and "b against a: nothing lost" in str(report)
    assert report.check("tables").detail == "2 tables, 5 rows, every checksum equal"
    assert report.check("indexes").detail == "2 (hnsw: 1)"
    assert report.check("row security").detail == "1 tables, 1 forced"
    assert report.check("vector search").detail == "same top 10 for 2 stores"
    assert "2 stores" in report.check("store isolation").detail
    assert report.frame().loc["tables", "result"] == "same"
    assert report.tables.loc["retail.sales", "same content"]
    assert "<b>b</b> against <b>a</b>: nothing lost" in report._repr_html_()
    with pytest.raises(KeyError, match="no check 'nope'"):
        report.check("nope")


def test_lost_rows_changed_rows_and_a_lost_table_are_each_reported() -> None:
    target = source()
    target.tables = {"retail.sales": [2, "cc"], "retail.extra": [1, "dd"]}
    report = compare(source(), target, "a", "b")
    assert not report.ok and report.check("tables").ok is False
    assert report.verdict == f"DIFFERENCES FOUND ({len(report.differences)})"
    assert "retail.sales: 3 rows in a, 2 in b" in report.differences
    assert "retail.stores: missing in b" in report.differences
    assert "retail.extra: missing in a" in report.differences
    same_count = source()
    same_count.tables["retail.sales"] = [3, "zz"]
    assert (
        "retail.sales: same 3 rows, different content" in compare(source(), same_count).differences
    )
    assert report.frame().loc["tables", "result"] == "DIFFERENT"
    assert "FAIL tables" in str(report)


def test_schema_facts_missing_or_extra_fail_but_a_reprinted_one_does_not() -> None:
    assert loose(CHECK) == loose(REPRINTED) and loose("a::int") != loose("b")
    target = source()
    target.schema = copy.deepcopy(source().schema)
    target.schema["constraints"] = [f"retail.sales sales_type_check CHECK ({REPRINTED})"]
    reprinted = compare(source(), target)
    assert reprinted.ok and "1 printed differently" in reprinted.check("constraints").detail
    target.schema["indexes"] = ["CREATE INDEX j ON t (x)", "CREATE INDEX k ON t (y)"]
    target.schema["row security"] = ["retail.sales enabled=true forced=false"]
    report = compare(source(), target, "a", "b")
    assert report.check("indexes").ok is False and report.check("row security").ok is False
    assert (
        "indexes: missing in b: CREATE INDEX i ON retail.sales USING hnsw (e)" in report.differences
    )
    assert "indexes: only in b: CREATE INDEX k ON t (y)" in report.differences
    assert report.check("indexes").detail == "2 (hnsw: 0); 1 missing, 1 extra"
    assert report.check("row security").detail.startswith("1 tables, 0 forced")


def test_a_leak_or_a_changed_count_fails_store_isolation() -> None:
    leaking = source()
    leaking.leaks = 4
    report = compare(source(), leaking)
    assert report.check("store isolation").ok is False
    assert "store isolation: mcp_user saw 4 rows of another store, or with no store" in (
        report.differences
    )
    fewer = source()
    fewer.isolation = {"retail.sales": {NO_STORE: 0, "north": 1, "south": 1}}
    report = compare(source(), fewer)
    assert report.check("store isolation").detail == "1 problems"
    assert "store isolation: retail.sales: north sees 1 rows, 2 before" in report.differences
    # When the table's data differs, the count is the tables check's to report.
    fewer.tables = {**fewer.tables, "retail.sales": [2, "cc"]}
    assert compare(source(), fewer).check("store isolation").ok is True


def test_other_search_results_fail_and_no_embeddings_on_either_side_compare_equal() -> None:
    other = source()
    other.search = {"north": ["p2 0.9", "p1 0.8"], "south": ["p3 0.7"]}
    report = compare(source(), other, "a", "b")
    assert report.check("vector search").ok is False
    assert report.check("vector search").detail == "top results differ for north"
    assert "vector search: north: top results differ (2 in a, 2 in b)" in report.differences
    empty, empty_too = source(), source()
    empty.search = empty_too.search = {}
    check = compare(empty, empty_too).check("vector search")
    assert check.ok is True and "no store has embeddings" in check.detail


@pytest.mark.parametrize("side", ["source", "target"])
def test_a_check_either_side_could_not_run_is_not_checked(side: str) -> None:
    blind = source()
    blind.isolation = blind.search = None
    blind.notes = {"isolation": "mcp_user cannot log in: no password", "search": "no function"}
    pair = (blind, source()) if side == "source" else (source(), blind)
    report = compare(*pair, "a", "b")
    assert report.check("store isolation").ok is None and report.check("vector search").ok is None
    assert report.check("store isolation").detail == (
        f"not checked; {side}: mcp_user cannot log in: no password"
    )
    assert report.not_checked == ["store isolation", "vector search"] and not report.ok
    assert report.verdict == "NOT VERIFIED: not checked: store isolation, vector search"
    assert "---- store isolation" in str(report) and "nothing lost" not in str(report)
    assert report.frame().loc["vector search", "result"] == "not checked"


def test_a_fingerprint_round_trips_through_json() -> None:
    taken = source()
    assert Fingerprint.from_json(taken.to_json()) == taken


def test_the_report_names_each_side_and_reads_line_by_line() -> None:
    leaking = source()
    leaking.leaks, leaking.search, leaking.notes = 1, None, {}
    report = compare(source(), leaking, "live", "copy")
    lines = str(report).split("\n")
    assert lines[0] == f"copy against live: DIFFERENCES FOUND ({len(report.differences)})"
    assert lines[1] == "  ok   tables: 2 tables, 5 rows, every checksum equal"
    assert "  FAIL store isolation: 1 problems" in lines
    assert "  ---- vector search: not checked; target: not recorded" in lines
    assert (
        lines[-1] == "  - store isolation: mcp_user saw 1 rows of another store, or with no store"
    )
    frame = report.frame()
    assert frame.index.name == "check" and list(frame.columns) == ["result", "detail"]
    blind, blind_too = source(), source()
    blind.search = blind_too.search = None
    assert compare(blind, blind_too).check("vector search").detail == (
        "not checked; source: not recorded; target: not recorded"
    )
    unnamed = source()
    assert compare(unnamed, source()).source == str(unnamed)
    assert compare(source(), unnamed).target == str(unnamed)


def test_a_fact_only_missing_or_only_extra_fails_and_says_how_many() -> None:
    target = source()
    target.schema = copy.deepcopy(source().schema)
    target.schema["indexes"] = target.schema["indexes"][:1]
    assert compare(source(), target).check("indexes").detail == "1 (hnsw: 1); 1 missing, 0 extra"
    assert compare(source(), target).check("indexes").ok is False
    assert compare(target, source()).check("indexes").ok is False  # only extra
    target.schema["constraints"] = [
        f"retail.sales sales_type_check CHECK ({REPRINTED})",
        "retail.sales sales_new_check CHECK (true)",
    ]
    check = compare(source(), target).check("constraints")
    assert check.ok is False
    assert (
        check.detail
        == "2 (1 printed differently after the restore, same meaning); 0 missing, 1 extra"
    )


def test_isolation_skips_new_tables_and_stores_but_compares_the_rest() -> None:
    target = source()
    target.isolation = {
        "retail.new": {"north": 5},  # not in the source: nothing to compare with
        "retail.sales": {NO_STORE: 0, "north": 1, "south": 1, "west": 3},  # west is new
    }
    report = compare(source(), target)
    assert report.differences == ["store isolation: retail.sales: north sees 1 rows, 2 before"]


def test_a_store_searched_on_one_side_only_differs() -> None:
    target = source()
    target.search = {**source().search, "west": ["p9 0.5"], "north": ["p2 0.9"]}
    check = compare(source(), target).check("vector search")
    assert check.ok is False and check.detail == "top results differ for north, west"
    empty, empty_too = source(), source()
    empty.search = empty_too.search = {}
    assert compare(empty, empty_too).check("vector search").detail == (
        "same top 10 for 0 stores (no store has embeddings to search with)"
    )


def test_the_tables_frame_counts_each_side_and_two_empty_databases_compare() -> None:
    target = source()
    target.tables = {"retail.sales": [2, "cc"]}
    tables = compare(source(), target, "a", "b").tables
    assert tables.loc["retail.sales", "a"] == 3 and tables.loc["retail.sales", "b"] == 2
    bare = Fingerprint(tables={}, schema={}, isolation={}, search={})
    report = compare(bare, Fingerprint(tables={}, schema={}, isolation={}, search={}))
    assert report.tables.empty and report.check("tables").ok is True
