"""One exception type whose message says what happened and what to do next."""

from __future__ import annotations


class LabError(RuntimeError):
    """A failure a person can act on.

    ``str(error)`` is one line: what happened, then what to do about it.
    """

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}. {fix}")
        self.what = what
        self.fix = fix
