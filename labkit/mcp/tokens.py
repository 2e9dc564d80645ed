"""Bearer tokens of the HTTP server: one per store, and the token alone decides the store.

A token is generated on first use and kept like the role passwords: a JSON file in
the data folder, mode 600, never committed. The server compares a presented token
with every store's in constant time, and hands on only the store and a short
fingerprint (to bind MCP sessions to the token that opened them): the token itself
is never logged, stored elsewhere, or passed to the database.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from mcp.server.auth.provider import AccessToken

from .. import contract, db
from ..credentials import PasswordStore
from ..errors import LabError

#: The issuer named in the tokens' claims: this lab, not an OAuth server.
ISSUER = "labkit"


def token_file() -> Path:
    """Where the lab database's tokens live: beside its role passwords."""
    return db.target().passwords.path.with_suffix(".mcp-tokens.json")


def check_store(store: str) -> str:
    """``store`` if a store login serves it, else an error naming the stores."""
    if store not in contract.STORE_LOGINS.values():
        stores = ", ".join(contract.STORE_LOGINS.values())
        raise LabError(f"No store login serves store {store!r}", f"Pick one of: {stores}")
    return store


def fingerprint(token: str) -> str:
    """A short, one-way name for a token: tells tokens apart without revealing one."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class StoreTokens:
    """The stores' tokens, read again whenever the file changes (so a rotation counts at once)."""

    def __init__(self, path: Path | None = None) -> None:
        self._store = PasswordStore(path or token_file())

    @property
    def path(self) -> Path:
        return self._store.path

    def token(self, store: str) -> str:
        """The store's token, generated on first use."""
        return self._store.get_or_create(check_store(store))

    def rotate(self, store: str) -> str:
        """A new token for the store; the old one stops working at once."""
        return self._store.rotate(check_store(store))

    def store_of(self, presented: str) -> str | None:
        """The store whose token this is, or None; constant time in the token."""
        found = None
        for store in contract.STORE_LOGINS.values():
            known = self._store.get(store)
            # Every store is compared, match or not, so timing says nothing either.
            if known is not None and hmac.compare_digest(known.encode(), presented.encode()):
                found = store
        return found


class StoreTokenVerifier:
    """The SDK's ``TokenVerifier``: a known token becomes an ``AccessToken`` for its store.

    ``client_id`` is the store; ``subject`` the token's fingerprint, so the SDK's
    session check (client_id, issuer, subject) ties a session to this very token.
    """

    def __init__(self, tokens: StoreTokens) -> None:
        self._tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        store = self._tokens.store_of(token)
        if store is None:
            return None
        name = fingerprint(token)
        return AccessToken(
            token=name, client_id=store, subject=name, scopes=[], claims={"iss": ISSUER}
        )
