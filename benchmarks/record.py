"""Keep benchmarks/RESULTS.md current: each benchmark owns one ``## `` section."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
_HEADER = (
    "# Benchmark results\n\nRecorded by `make bench` (each benchmark rewrites its own section). "
    "Timings are wall-clock on the machine named; compare ratios, not seconds, across machines.\n"
)


def record(title: str, body: str, path: Path = RESULTS) -> Path:
    """Replace (or append) the section headed ``## {title}`` with ``body``."""
    text = path.read_text(encoding="utf-8") if path.exists() else _HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")
    return path
