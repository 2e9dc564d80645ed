"""Bearer tokens: one per store, made once, private, rotated, compared in constant time."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest

from labkit.errors import LabError
from labkit.mcp.tokens import StoreTokens, StoreTokenVerifier, fingerprint


def test_a_token_is_made_once_per_store_and_kept(tmp_path: Path) -> None:
    tokens = StoreTokens(tmp_path / "tokens.json")
    seattle = tokens.token("seattle")
    assert len(seattle) >= 32
    assert tokens.token("seattle") == seattle
    assert StoreTokens(tmp_path / "tokens.json").token("seattle") == seattle
    assert tokens.token("redmond") != seattle


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_token_file_is_private(tmp_path: Path) -> None:
    tokens = StoreTokens(tmp_path / "tokens.json")
    tokens.token("seattle")
    assert stat.S_IMODE(os.stat(tokens.path).st_mode) == 0o600


def test_a_token_names_its_store_and_nothing_else_does(tmp_path: Path) -> None:
    tokens = StoreTokens(tmp_path / "tokens.json")
    seattle, redmond = tokens.token("seattle"), tokens.token("redmond")
    assert tokens.store_of(seattle) == "seattle"
    assert tokens.store_of(redmond) == "redmond"
    for wrong in ("", seattle[:-1], seattle + "x", seattle.upper(), "seattle"):
        assert tokens.store_of(wrong) is None


def test_rotation_replaces_the_token_at_once(tmp_path: Path) -> None:
    tokens = StoreTokens(tmp_path / "tokens.json")
    old = tokens.token("seattle")
    new = tokens.rotate("seattle")
    assert new != old
    assert tokens.store_of(old) is None
    assert tokens.store_of(new) == "seattle"


def test_an_unknown_store_gets_no_token(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="Pick one of: seattle, redmond, bellevue, online"):
        StoreTokens(tmp_path / "tokens.json").token("everywhere")


def test_the_verifier_hands_on_the_store_and_a_fingerprint_not_the_token(tmp_path: Path) -> None:
    tokens = StoreTokens(tmp_path / "tokens.json")
    token = tokens.token("redmond")
    verifier = StoreTokenVerifier(tokens)
    access = asyncio.run(verifier.verify_token(token))
    assert access is not None
    assert access.client_id == "redmond"
    assert access.subject == fingerprint(token) != token
    assert token not in access.model_dump_json()
    assert asyncio.run(verifier.verify_token("not-a-token")) is None
