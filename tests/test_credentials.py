import os
import stat
import sys
from pathlib import Path

import pytest

from labkit.credentials import PasswordStore


def test_passwords_are_generated_once_and_kept(tmp_path: Path) -> None:
    store = PasswordStore(tmp_path / "passwords.json")
    first = store.get_or_create("retail_owner")
    assert len(first) >= 24
    assert store.get_or_create("retail_owner") == first
    assert PasswordStore(tmp_path / "passwords.json").get("retail_owner") == first
    assert store.get("nobody") is None
    assert store.get_or_create("other") != first


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_password_file_is_private(tmp_path: Path) -> None:
    store = PasswordStore(tmp_path / "passwords.json")
    store.get_or_create("retail_owner")
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600
    assert not list(tmp_path.glob("*.tmp"))
