"""Byte counts as people read them."""

from __future__ import annotations


def human_size(size: float) -> str:
    """``2.1 MB``: decimal units, as file managers show them."""
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
