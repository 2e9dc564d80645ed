"""A deterministic stand-in for fast tests. It is NOT a semantic model.

Each word is hashed to one of ``dimensions`` slots with a sign (the "hashing
trick"), so two texts are similar exactly when they share words. That makes
it instant, dependency-free and predictable, which is what unit tests of the
plumbing need; it will never find "parka" for "warm winter jacket". Its vectors
are stored under their own model name, so they never mix with a real model's.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from .base import Embedder, Vectors

_WORD = re.compile(r"[a-z0-9]+")


class StandIn(Embedder):
    """Words hashed into a small vector: lexical, instant, deterministic."""

    semantic = False
    default_threshold = 0.0
    batch_size = 256

    def __init__(self, dimensions: int = 64) -> None:
        self.dimensions = dimensions
        self.name = f"labkit-word-hash-{dimensions}"

    def _embed(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            # A text of punctuation alone still gets a direction: its own hash.
            for word in _WORD.findall(text.lower()) or [text]:
                digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest())
                out[row, digest % self.dimensions] += 1.0 if digest >> 63 else -1.0
            if not out[row].any():  # words that cancelled out
                out[row, 0] = 1.0
        return out
