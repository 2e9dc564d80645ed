import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from record import record


def test_each_benchmark_rewrites_only_its_own_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    record("A", "first a", results)
    record("B", "first b", results)
    record("A", "second a", results)
    text = results.read_text()
    assert text.startswith("# Benchmark results")
    assert "second a" in text and "first a" not in text and "first b" in text
    assert text.index("## A") < text.index("## B")
