"""The one way labkit runs a PostgreSQL program: ``binaries.run_server_program``."""

from __future__ import annotations

import pytest

from labkit import binaries, contract, db
from labkit.errors import LabError


def _psql(query: str, **options: object) -> list[str]:
    lab = db.ensure_server()
    result = binaries.run_server_program(
        "psql",
        ["-X", "-A", "-t", "-c", query],
        lab.settings,
        connect=lab.params(contract.APP_ROLE),
        as_service=False,
        **options,  # type: ignore[arg-type]
    )
    return [result.stdout.strip(), result.stderr, *map(str, result.args)]


def test_a_client_connects_with_the_password_in_its_environment_never_in_its_arguments() -> None:
    password = db.ensure_server().params(contract.APP_ROLE)["password"]
    out, _, *command = _psql("SELECT current_user")
    assert out == contract.APP_ROLE  # it logged in, so the password reached it
    assert password and not any(password in arg for arg in command), command  # ps shows these
    assert any(arg.startswith("--dbname=postgresql://") for arg in command)


def test_a_program_that_fails_raises_what_it_said_with_the_hint_given() -> None:
    with pytest.raises(LabError) as raised:
        _psql("SELECT * FROM retail.no_such_table", failed=("The probe failed", "Do X"))
    what = 'The probe failed: relation "retail.no_such_table" does not exist'
    assert (raised.value.what, raised.value.fix) == (what, "Do X")
    out, error, *_ = _psql("SELECT * FROM retail.no_such_table")  # without failed=: returned
    assert out == "" and "no_such_table" in error
