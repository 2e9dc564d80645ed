"""OpenAI or Azure OpenAI embeddings (``text-embedding-3-small`` by default).

Chosen with ``LABKIT_EMBEDDINGS=openai`` or ``LABKIT_EMBEDDINGS=azure``, never
just because a key happens to be set: the lab runs offline unless asked not to.

| variable | meaning |
|---|---|
| ``OPENAI_API_KEY`` | OpenAI's key (required for ``openai``) |
| ``OPENAI_BASE_URL`` | another OpenAI-compatible server (read by the SDK) |
| ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT`` | Azure's key and endpoint (required for ``azure``) |
| ``AZURE_OPENAI_EMBEDDING_DEPLOYMENT`` | the Azure deployment (default: the model's name) |
| ``OPENAI_API_VERSION`` | the Azure API version (default 2024-10-21) |
| ``LABKIT_OPENAI_MODEL`` | the model (default ``text-embedding-3-small``) |
| ``LABKIT_OPENAI_DIMENSIONS`` | fewer dimensions than the model's own (text-embedding-3 only) |

A model shortened to other dimensions is stored as ``model@dimensions``: its
vectors are not comparable with the full-size ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import contract
from ..errors import LabError
from .base import Embedder, Vectors

#: Each model's own size.
NATIVE_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
AZURE_API_VERSION = "2024-10-21"


class OpenAIEmbedder(Embedder):
    """Embeddings from an OpenAI-compatible API, through the official SDK."""

    #: A starting point, not measured here (that needs a key): text-embedding-3
    #: similarities between a question and a product run low, as MiniLM's do.
    default_threshold = 0.25
    batch_size = 256

    def __init__(self, client: Any, model: str, dimensions: int | None = None) -> None:
        native = NATIVE_DIMENSIONS.get(model)
        if dimensions is None and native is None:
            raise LabError(
                f"labkit does not know how many dimensions {model!r} has",
                "Set LABKIT_OPENAI_DIMENSIONS to its size",
            )
        self.client = client
        self.model = model
        self.dimensions = dimensions or native or 0
        self._ask_dimensions = dimensions is not None and dimensions != native
        self.name = f"{model}@{dimensions}" if self._ask_dimensions else model

    @classmethod
    def from_env(
        cls, *, azure: bool = False, env: Mapping[str, str] | None = None
    ) -> OpenAIEmbedder:
        """The client the environment describes; a clear error when a key is missing."""
        env = os.environ if env is None else env
        import openai

        model = env.get("LABKIT_OPENAI_MODEL") or contract.EMBEDDING_MODEL
        raw = env.get("LABKIT_OPENAI_DIMENSIONS")
        if raw is not None and not (raw.isdigit() and int(raw) > 0):
            raise LabError(
                f"LABKIT_OPENAI_DIMENSIONS={raw!r} is not a positive number",
                "Unset it or give a size like 512",
            )
        dimensions = int(raw) if raw else None
        if azure:
            missing = [
                v for v in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT") if not env.get(v)
            ]
            if missing:
                raise LabError(
                    f"Azure OpenAI embeddings were chosen (LABKIT_EMBEDDINGS=azure) but {' and '.join(missing)} not set",
                    "Set them from your Azure OpenAI resource, or unset LABKIT_EMBEDDINGS to use the offline model",
                )
            client: Any = openai.AzureOpenAI(
                api_key=env["AZURE_OPENAI_API_KEY"],
                azure_endpoint=env["AZURE_OPENAI_ENDPOINT"],
                api_version=env.get("OPENAI_API_VERSION") or AZURE_API_VERSION,
                timeout=60,
            )
            embedder = cls(client, model, dimensions)
            embedder.model = env.get("AZURE_OPENAI_EMBEDDING_DEPLOYMENT") or model
            return embedder
        if not env.get("OPENAI_API_KEY"):
            raise LabError(
                "OpenAI embeddings were chosen (LABKIT_EMBEDDINGS=openai) but OPENAI_API_KEY is not set",
                "Set OPENAI_API_KEY, or unset LABKIT_EMBEDDINGS to use the offline model",
            )
        client = openai.OpenAI(
            api_key=env["OPENAI_API_KEY"], base_url=env.get("OPENAI_BASE_URL") or None, timeout=60
        )
        return cls(client, model, dimensions)

    def _embed(self, texts: list[str]) -> Vectors:
        import openai

        extra: dict[str, Any] = {"dimensions": self.dimensions} if self._ask_dimensions else {}
        try:
            response = self.client.embeddings.create(model=self.model, input=texts, **extra)
        except openai.AuthenticationError as error:
            raise LabError(
                "The OpenAI service refused the API key",
                "Check the key (and that it may use embeddings)",
            ) from error
        except openai.APIConnectionError as error:
            raise LabError(
                f"Cannot reach the OpenAI service ({error})",
                "Check the network and OPENAI_BASE_URL / AZURE_OPENAI_ENDPOINT, or use the offline model",
            ) from error
        except openai.APIStatusError as error:
            raise LabError(
                f"The OpenAI service answered {error.status_code}: {error.message}",
                "Check the model or deployment name and your quota",
            ) from error
        rows = sorted(response.data, key=lambda item: item.index)
        return np.array([row.embedding for row in rows], dtype=np.float32)
