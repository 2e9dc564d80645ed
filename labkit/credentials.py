"""Role passwords, generated once and kept in the data folder with mode 600.

They are never committed (the data folder is gitignored) and never printed,
except by ``labkit url``, whose whole purpose is to hand one to psql.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


class PasswordStore:
    """A small JSON file mapping role name to password."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        data: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def get(self, role: str) -> str | None:
        return self._read().get(role)

    def get_or_create(self, role: str) -> str:
        """The role's password, generating and saving one on first use."""
        passwords = self._read()
        if role not in passwords:
            passwords[role] = secrets.token_urlsafe(24)
            self._write(passwords)
        return passwords[role]

    def rotate(self, role: str) -> str:
        """A new password (or token) for ``role``, replacing the old one."""
        passwords = self._read()
        passwords[role] = secrets.token_urlsafe(24)
        self._write(passwords)
        return passwords[role]

    def _write(self, passwords: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        # Created 0600 from the start, so the secret is never readable by others.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(passwords, file, indent=2, sort_keys=True)
        os.replace(temporary, self.path)
        os.chmod(self.path, 0o600)
