"""``labkit embed``: embeds what changed, says what it did in one line, and
refuses a model or store it does not know with a message that says what to do."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import labkit

from . import search_data
from .helpers import run_labkit
from .search_data import NORTH, SOUTH


@pytest.fixture(scope="module")
def stores() -> Iterator[None]:
    with labkit.connect(autocommit=True) as admin:
        search_data.write(admin)
        yield
        search_data.remove(admin)


def test_embed_twice_embeds_once(stores: None, admin: psycopg.Connection) -> None:
    args = ("embed", "--model", "stand-in", "--store", NORTH, "--store", SOUTH)
    first = run_labkit(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Embedded 20 texts with labkit-word-hash-64"), first.stdout
    assert "0 unchanged kept" in first.stdout and f"{NORTH} 11, {SOUTH} 9" in first.stdout
    assert "100%" in first.stderr, "a progress bar"
    again = run_labkit(*args, "--quiet")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Embedded 0 texts") and "20 unchanged kept" in again.stdout
    assert len(first.stdout.strip().splitlines()) == 1 and again.stderr == ""
    rows = admin.execute(
        "SELECT count(*) FROM retail.product_embeddings WHERE store_id = ANY(%s)"
        " AND embedding_model = 'labkit-word-hash-64'",
        (list(search_data.STORES),),
    ).fetchone()
    assert rows == (20,)


def test_an_unknown_model_or_store_is_refused(stores: None) -> None:
    model = run_labkit("embed", "--model", "word2vec", "--store", NORTH)
    assert model.returncode == 1 and "Unknown embedding model 'word2vec'" in model.stderr
    assert "Pick one of: minilm, openai" in model.stderr
    store = run_labkit("embed", "--model", "stand-in", "--store", "atlantis")
    assert store.returncode == 1 and "Unknown or inactive store 'atlantis'" in store.stderr
