"""What every embedding model in labkit offers: texts in, unit vectors out.

An embedding model maps a text to a fixed-length list of numbers such that texts
with similar meaning get vectors pointing in similar directions. The lab stores
them in ``retail.product_embeddings`` and compares them with cosine distance.
Every model here returns unit-length float32 rows, so cosine similarity is a
plain dot product, and checks its own output: a model that answers with the
wrong number of dimensions fails here, before anything reaches the database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..errors import LabError

Vectors = NDArray[np.float32]


class Embedder(ABC):
    """One embedding model: its name in the database, its size, and ``embed``."""

    #: Stored in ``product_embeddings.embedding_model``; rows of different names
    #: are never compared.
    name: str
    dimensions: int
    #: False for the stand-in: its vectors follow words, not meaning.
    semantic: bool = True
    #: The similarity below which a result is more likely noise than a match,
    #: measured per model (cosine similarities are not comparable across models).
    default_threshold: float = 0.0
    #: Texts per call to the model (and per request, for a remote one).
    batch_size: int = 64

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text, in order."""
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise LabError(
                    f"Text {index} to embed is empty or not a string ({text!r})",
                    "Give every product a name or description before embedding it",
                )
        if not texts:
            return np.empty((0, self.dimensions), dtype=np.float32)
        vectors = np.asarray(self._embed(texts), dtype=np.float32)
        if vectors.shape != (len(texts), self.dimensions):
            raise LabError(
                f"{self.name} returned vectors of shape {vectors.shape}, "
                f"expected ({len(texts)}, {self.dimensions})",
                "Check the model and its dimensions setting; nothing was stored",
            )
        return normalize(vectors)

    def embed_query(self, query: str) -> Vectors:
        """The vector of one search query, checked for being a real query."""
        if not isinstance(query, str) or not query.strip():
            raise LabError(
                "The search query is empty",
                'Describe what you are looking for, e.g. "warm winter jacket"',
            )
        return self.embed([query])[0]

    @abstractmethod
    def _embed(self, texts: list[str]) -> Vectors:
        """The model's raw vectors for ``texts`` (non-empty strings)."""

    def __repr__(self) -> str:
        kind = "semantic" if self.semantic else "NOT semantic"
        return f"<{type(self).__name__} {self.name!r}: {self.dimensions} dimensions, {kind}>"


def normalize(vectors: Vectors) -> Vectors:
    """Rows scaled to length 1 (all-zero rows are refused: they have no direction)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        raise LabError(
            "An embedding came back all zeros or not finite",
            "Such a vector has no direction to compare; check the model's output",
        )
    return (vectors / norms).astype(np.float32)


def to_text(vector: Vectors | Sequence[float]) -> str:
    """pgvector's text form, ``[0.1,0.2,...]``, for a bound ``%s::vector`` parameter."""
    return "[" + ",".join(f"{value:.7g}" for value in np.asarray(vector, dtype=np.float32)) + "]"
