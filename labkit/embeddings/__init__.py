"""Embedding models behind one small interface, :class:`Embedder`.

>>> from labkit import embeddings
>>> model = embeddings.get()          # offline all-MiniLM-L6-v2 unless told otherwise
>>> model.embed(["warm winter jacket"]).shape
(1, 384)

``get()`` reads ``LABKIT_EMBEDDINGS``:

| value | model | needs |
|---|---|---|
| unset, ``minilm`` | all-MiniLM-L6-v2, int8 ONNX, 384 dimensions, on this CPU | nothing (offline) |
| ``openai`` | OpenAI ``text-embedding-3-small``, 1536 dimensions | ``OPENAI_API_KEY`` |
| ``azure`` | the same model on Azure OpenAI | ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT`` |
| ``stand-in`` | words hashed into 64 numbers: for tests, not semantic | nothing |
"""

from __future__ import annotations

import functools
import os

from ..errors import LabError
from .base import Embedder, Vectors, normalize, to_text
from .minilm import MiniLM
from .openai_api import OpenAIEmbedder
from .standin import StandIn

CHOICES = ("minilm", "openai", "azure", "stand-in")


@functools.cache
def offline() -> MiniLM:
    """The offline model, loaded once per process (about 0.3 s)."""
    return MiniLM()


def get(name: str | None = None) -> Embedder:
    """The model named by ``name``, or by ``LABKIT_EMBEDDINGS``; offline by default."""
    choice = (name or os.environ.get("LABKIT_EMBEDDINGS") or "minilm").strip().lower()
    if choice in ("minilm", "offline"):
        return offline()
    if choice == "openai":
        return OpenAIEmbedder.from_env()
    if choice in ("azure", "azure-openai"):
        return OpenAIEmbedder.from_env(azure=True)
    if choice in ("stand-in", "standin"):
        return StandIn()
    raise LabError(f"Unknown embedding model {choice!r}", f"Pick one of: {', '.join(CHOICES)}")


__all__ = [
    "CHOICES",
    "Embedder",
    "MiniLM",
    "OpenAIEmbedder",
    "StandIn",
    "Vectors",
    "get",
    "normalize",
    "offline",
    "to_text",
]
