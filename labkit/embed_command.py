"""``labkit embed``: embed every product whose text changed, with a progress bar.

Kept apart from ``cli.py`` so that the command line starts without loading a
model: the model, numpy and onnxruntime are imported only when the command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def _embed(args: argparse.Namespace) -> int:
    from . import schema
    from .embeddings import get
    from .embeddings.catalog import embed_catalog

    schema.setup()
    report = embed_catalog(args.store or None, get(args.model), progress=not args.quiet)
    print(report)
    return 0


def add_commands(add: Add) -> None:
    """Register ``labkit embed`` with the parser's ``add``."""
    embed = add(
        "embed",
        _embed,
        "embed every product whose text changed since it was last embedded (idempotent)",
    )
    embed.add_argument(
        "--model",
        help="minilm (offline, the default), openai, azure or stand-in;"
        " default: $LABKIT_EMBEDDINGS, else minilm",
    )
    embed.add_argument(
        "--store", action="append", help="only this store (repeat for several; default: all)"
    )
    embed.add_argument("--quiet", action="store_true", help="no progress bar")
