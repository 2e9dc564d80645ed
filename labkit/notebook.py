"""What a notebook's Setup cell needs: the database ready, ``%sql`` connected,
and SQL files shown from ``sql/`` rather than copied into cells."""

from __future__ import annotations

import os
from typing import Any

from . import contract, schema
from .db import url


def start(role: str = contract.OWNER_ROLE, *, sql_magic: bool = True) -> None:
    """Bring the database to the state the lab needs and connect ``%sql`` as ``role``.

    Safe to run any number of times, in any notebook, in any order.
    """
    report = schema.setup()
    if sql_magic:
        use_sql_magic(role)
    print(
        f"Lab database ready ({len(report.files)} SQL files applied in {report.seconds:.2f} s)"
        + (f"; %sql runs as {role}" if sql_magic else "")
    )


def use_sql_magic(role: str = contract.OWNER_ROLE) -> None:
    """Load jupysql's ``%sql``/``%%sql`` magics, connected to the lab database as ``role``."""
    # jupysql reports usage to a web service by default; the lab runs offline.
    os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")
    os.environ.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")
    from IPython import get_ipython
    from IPython.utils.capture import capture_output

    shell: Any = get_ipython()
    if shell is None:
        raise RuntimeError("use_sql_magic() works inside IPython or Jupyter only")
    # Loading jupysql prints a configuration tip, a link to its web site and "Did not
    # find user configurations" at every load; the lab configures it below instead.
    with capture_output(display=True):
        shell.run_line_magic("load_ext", "sql")
    # A failing query must fail the cell (jupysql prints and carries on by default),
    # so CI notices a broken notebook.
    shell.run_line_magic("config", "SqlMagic.short_errors = False")
    shell.run_line_magic("config", "SqlMagic.displaylimit = 20")
    shell.run_line_magic("config", "SqlMagic.displaycon = False")
    shell.user_ns["lab_engine"] = sql_engine(role)
    shell.run_line_magic("sql", "lab_engine --alias lab")


def sql_engine(role: str = contract.OWNER_ROLE) -> Any:
    """A SQLAlchemy engine whose connections come from ``labkit.connect``.

    So a ``%sql`` cell after ``labkit down`` says the lab server is stopped and to
    run ``labkit up``, rather than showing the driver's raw AdminShutdown: on the
    connection jupysql holds, through the error handler below; on a new one,
    through ``labkit.connect``.
    """
    import sqlalchemy

    from .db import connect, target
    from .server import stopped_error

    engine = sqlalchemy.create_engine(
        url(role, driver="psycopg"), creator=lambda: connect(role), pool_pre_ping=True
    )

    def explain_a_stopped_server(context: Any) -> Exception | None:
        lab = target()
        if context.is_disconnect and lab.embedded and lab.server.stopped_on_purpose():
            return stopped_error()
        return None

    sqlalchemy.event.listen(engine, "handle_error", explain_a_stopped_server)
    return engine


class SQLListing:
    """A piece of a file in ``sql/``, shown as highlighted SQL in a notebook."""

    def __init__(self, title: str, text: str) -> None:
        self.title = title
        self.text = text

    def _repr_markdown_(self) -> str:
        return f"**{self.title}**\n\n```sql\n{self.text}\n```"

    def __str__(self) -> str:
        return self.text


def show_sql(name: str, section: str | None = None) -> SQLListing:
    """Show one file of ``sql/``, or one ``-- section:`` of it."""
    path = schema.sql_file(name)
    if section is None:
        return SQLListing(f"sql/{path.name}", path.read_text(encoding="utf-8").strip())
    return SQLListing(f"sql/{path.name}, section {section}", schema.section(name, section))


def show_lesson(name: str) -> SQLListing:
    """Show one file of ``sql/lessons/``."""
    path = schema.lesson_file(name)
    return SQLListing(f"sql/lessons/{path.name}", path.read_text(encoding="utf-8").strip())


def run_lesson(name: str) -> None:
    """Apply one file of ``sql/lessons/`` (idempotent) as the administrator."""
    from .db import connect

    with connect(autocommit=True) as conn:
        schema.apply_file(conn, schema.lesson_file(name))


def run_sql(name: str) -> None:
    """Apply one file of ``sql/`` (idempotent), as ``labkit setup`` would."""
    from .db import connect

    with connect(autocommit=True) as conn:
        schema.apply_file(conn, schema.sql_file(name))
