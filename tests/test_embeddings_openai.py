"""OpenAI and Azure OpenAI embeddings, offline: the real SDK against a fake
OpenAI-compatible server on 127.0.0.1 (which answers in base64, as the SDK asks)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import psycopg
import pytest

import labkit
from labkit import contract
from labkit.embeddings import OpenAIEmbedder, StandIn, ann
from labkit.errors import LabError

from . import search_data
from .helpers import free_port

KEY = "sk-test-not-a-real-key"


class FakeOpenAI(ThreadingHTTPServer):
    """POST .../embeddings: word-hash vectors (lexical, deterministic) of the
    requested size, as floats or base64 float32, like api.openai.com."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.wrong_size = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        url = urlparse(self.path)
        self.server.requests.append(
            {
                "path": url.path,
                "query": parse_qs(url.query),
                "headers": dict(self.headers),
                "body": body,
            }
        )
        key = self.headers.get("api-key") or self.headers.get("Authorization", "").removeprefix(
            "Bearer "
        )
        if key != KEY:
            error = {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
            return self._answer(401, {"error": error})
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        size = body.get("dimensions", 1536) - (7 if self.server.wrong_size else 0)
        vectors = StandIn(size)._embed(texts)
        data = []
        for index, vector in enumerate(vectors):
            unit = (vector / np.linalg.norm(vector)).astype("<f4")
            encoded = (
                base64.b64encode(unit.tobytes()).decode()
                if body.get("encoding_format") == "base64"
                else unit.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        self._answer(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    fake.requests.clear()
    fake.wrong_size = False
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{fake.url}/v1"}


def test_openai_embeddings_through_the_sdk(fake: FakeOpenAI, env: dict[str, str]) -> None:
    model = OpenAIEmbedder.from_env(env=env)
    vectors = model.embed(["an insulated cooler", "a down jacket", "a car wash kit"])
    assert vectors.shape == (3, 1536) and model.name == contract.EMBEDDING_MODEL
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    (request,) = fake.requests
    assert request["path"] == "/v1/embeddings"
    assert request["body"]["model"] == "text-embedding-3-small"
    assert request["body"]["encoding_format"] == "base64", "the SDK's default, decoded by the SDK"
    assert request["headers"]["authorization"] == f"Bearer {KEY}"


def test_fewer_dimensions_get_a_model_name_of_their_own(
    fake: FakeOpenAI, env: dict[str, str]
) -> None:
    model = OpenAIEmbedder.from_env(env={**env, "LABKIT_OPENAI_DIMENSIONS": "256"})
    assert model.embed(["cooler"]).shape == (1, 256)
    assert model.name == "text-embedding-3-small@256", "never compared with 1536-dimension rows"
    assert fake.requests[-1]["body"]["dimensions"] == 256
    with pytest.raises(LabError, match="not a positive number"):
        OpenAIEmbedder.from_env(env={**env, "LABKIT_OPENAI_DIMENSIONS": "many"})


def test_a_wrong_key_is_a_clear_error(env: dict[str, str]) -> None:
    model = OpenAIEmbedder.from_env(env={**env, "OPENAI_API_KEY": "sk-wrong"})
    with pytest.raises(LabError, match="refused the API key"):
        model.embed(["cooler"])


def test_vectors_of_the_wrong_size_are_caught_before_the_database(
    fake: FakeOpenAI, env: dict[str, str]
) -> None:
    fake.wrong_size = True
    with pytest.raises(LabError, match=r"shape \(1, 1529\), expected \(1, 1536\)"):
        OpenAIEmbedder.from_env(env=env).embed(["cooler"])


def test_an_unreachable_server_is_a_clear_error(env: dict[str, str]) -> None:
    model = OpenAIEmbedder.from_env(
        env={**env, "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    )
    model.client = model.client.with_options(max_retries=0)
    with pytest.raises(LabError, match="Cannot reach the OpenAI service"):
        model.embed(["cooler"])


def test_azure_openai_uses_the_deployment_and_api_key_header(
    fake: FakeOpenAI, env: dict[str, str]
) -> None:
    azure = {
        "AZURE_OPENAI_API_KEY": KEY,
        "AZURE_OPENAI_ENDPOINT": fake.url,
        "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "embeddings-small",
    }
    model = OpenAIEmbedder.from_env(azure=True, env=azure)
    assert model.embed(["cooler", "jacket"]).shape == (2, 1536)
    request = fake.requests[-1]
    assert request["path"] == "/openai/deployments/embeddings-small/embeddings"
    assert request["query"]["api-version"] == ["2024-10-21"]
    assert request["headers"]["api-key"] == KEY
    assert model.name == contract.EMBEDDING_MODEL, (
        "stored under the model's name, not the deployment's"
    )


@pytest.fixture
def catalog() -> Iterator[None]:
    with labkit.connect(autocommit=True) as admin:
        search_data.write(admin)
        yield
        search_data.remove(admin)


def test_the_openai_path_end_to_end(
    env: dict[str, str], catalog: None, admin: psycopg.Connection
) -> None:
    model = OpenAIEmbedder.from_env(env=env)
    report = labkit.embed_catalog(search_data.STORES, model, progress=False)
    assert report.embedded == {search_data.NORTH: 11, search_data.SOUTH: 9}
    sizes = admin.execute(
        "SELECT DISTINCT vector_dims(embedding) FROM retail.product_embeddings WHERE embedding_model = %s",
        (contract.EMBEDDING_MODEL,),
    ).fetchall()
    assert sizes == [(1536,)]
    found = labkit.search("insulated cooler", search_data.NORTH, 3, mode="semantic", embedder=model)
    assert "Cooler" in found["product_name"].iloc[0]
    # The lab's own index serves the same function, by the query vector's size.
    plan = ann.function_plan(
        model.embed_query("cooler"),
        search_data.NORTH,
        settings={"enable_seqscan": "off", "enable_sort": "off"},  # as on a large table
    )
    graph = f"product_embeddings_te3small_hnsw_{search_data.NORTH}"
    assert any(graph in line for line in plan), plan
