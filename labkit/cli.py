"""The labkit command: start, stop, inspect and reset the lab database.

Start-up stays fast (``labkit --help`` and ``labkit status`` in a fraction of a
second) because this module imports only argparse: each command imports what it
needs when it runs. A command is one ``add(name, handler, help)`` line in
``build_parser``; the handler is a function, or ``"module:function"`` to import
its module only when the command runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

Handler = Callable[[argparse.Namespace], int]
#: ``add(name, handler, help)``: registers a command and returns its parser for arguments.
Add = Callable[[str, "Handler | str", str], argparse.ArgumentParser]

DESCRIPTION = "Start, stop, inspect and reset the Zava Retail lab database."
EPILOG = (
    "Run labkit COMMAND --help for a command's options. Typical use: labkit up, "
    "labkit setup, labkit seed, labkit status, labkit down."
)


def _clean_up_drills(lab: Any, *, server_running: bool = True) -> None:
    """Remove what interrupted point-in-time-recovery drills left, and say so."""
    from . import leftovers

    found = leftovers.clean_up(lab if server_running else None)
    if found:
        print("drills:     " + str(found).replace("\n", "\n            "))


def _up(args: argparse.Namespace) -> int:
    import time

    from . import db

    lab = db.target()
    if not lab.embedded:
        print("DATABASE_URL is set: the lab uses that server, and labkit up has nothing to start.")
        return 0
    started = time.perf_counter()
    started_now = lab.server.ensure_running(requested=True)
    seconds = time.perf_counter() - started
    status = lab.server.status()
    created = db.ensure_database(lab)
    verb = f"started in {seconds:.2f} s" if started_now else "already running"
    print(f"Server {verb} on {db.LISTEN_ADDRESS}:{status.port} (data: {status.data_dir})")
    if created:
        print(f"Created database {lab.database}; run `labkit setup` to apply the schema.")
    _clean_up_drills(lab)
    return 0


def _down(args: argparse.Namespace) -> int:
    from . import db

    lab = db.target()
    if not lab.embedded:
        print("DATABASE_URL is set: labkit down only stops the embedded server; nothing to do.")
        return 0
    _clean_up_drills(lab, server_running=lab.server.status().running)
    stopped = lab.server.stop()
    print("Server stopped." if stopped else "Server was not running.")
    return 0


def _status(args: argparse.Namespace) -> int:
    from . import db

    lab = db.target()
    if lab.embedded:
        status = lab.server.status()
        print(f"server:     embedded, {'running' if status.running else 'stopped'}")
        print(f"data dir:   {status.data_dir}")
        print(f"log:        {status.log_file}")
        _show_mcp_server()
        if not status.running:
            if lab.server.stopped_on_purpose():
                print("            stopped by `labkit down`: connections wait for `labkit up`")
            print("Start it with: labkit up")
            _clean_up_drills(lab, server_running=False)
            return 3
        print(f"address:    {db.LISTEN_ADDRESS}:{status.port}")
        print(f"socket dir: {status.socket_dir or '(none)'}")
    else:
        params = lab.params()
        print("server:     external (DATABASE_URL)")
        print(f"address:    {params.get('host')}:{params.get('port', '5432')}")
        _show_mcp_server()
    print(f"database:   {lab.database}")
    from . import leftovers

    # The bundled psql answers in milliseconds; psycopg alone takes longer to import
    # than the whole command should. It is imported only when psql cannot answer,
    # or when a drill left something to clean up.
    answers = _ask_psql(lab, "SHOW server_version", _VECTOR_VERSION, leftovers.SLOTS_QUERY)
    if answers is None:
        with db.connect() as conn:
            answers = [
                [str(value) for value in row]
                for query in ("SHOW server_version", _VECTOR_VERSION, leftovers.SLOTS_QUERY)
                for row in conn.execute(query).fetchall()
            ]
    version, vector, *slots = answers + [["?"]] * max(0, 2 - len(answers))
    print(f"PostgreSQL: {version[0]}")
    print(f"pgvector:   {vector[0] if vector and vector[0] else 'not available'}")
    if lab.embedded:
        tail = lab.server.log_tail(5)
        if tail:
            print("log tail:\n  " + tail.replace("\n", "\n  "))
    if slots or leftovers.drill_folders():
        _clean_up_drills(lab)
    return 0


_VECTOR_VERSION = (
    "SELECT coalesce(e.extversion, a.default_version || ' (available, not installed)')"
    " FROM pg_catalog.pg_available_extensions a"
    " LEFT JOIN pg_catalog.pg_extension e ON e.extname = a.name WHERE a.name = 'vector'"
)


def _ask_psql(lab: Any, *queries: str) -> list[list[str]] | None:
    """Each query's rows, tab-separated, from the bundled psql; None when it cannot answer
    (an external server, a missing database or login), for psycopg to explain."""
    from . import binaries
    from .errors import LabError

    if not lab.embedded:
        return None
    args = ["-X", "-A", "-t", "-q", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    args += [part for query in queries for part in ("-c", query)]
    try:
        result = binaries.run_server_program(
            "psql", args, lab.settings, connect=lab.params(), timeout=60, as_service=False
        )
    except LabError:
        return None
    if result.returncode != 0:
        return None
    return [line.split("\t") for line in result.stdout.splitlines()]


def _show_mcp_server() -> None:
    from .mcp import state  # the state file only, not the MCP SDK

    for served in state.running():
        print(f"MCP server: {served['url']} (pid {served['pid']}, labkit mcp serve --http)")


def _url(args: argparse.Namespace) -> int:
    from . import db

    db.ensure_server()
    print(db.url(args.role or db.ADMIN, driver=args.driver))
    return 0


def _psql(args: argparse.Namespace) -> int:
    import shutil
    import subprocess

    from . import binaries, db

    lab = db.ensure_server()
    psql = shutil.which("psql") if not lab.embedded else None
    command = [str(binaries.program("psql", lab.settings)) if psql is None else psql]
    command += [db.url(args.role or db.ADMIN), *args.psql_args]
    return subprocess.call(command)


def _setup(args: argparse.Namespace) -> int:
    from . import schema

    report = schema.setup()
    if report.database_created:
        print("Created the lab database.")
    print(f"Applied {len(report.files)} files in {report.seconds:.2f} s: {', '.join(report.files)}")
    if report.passwords_set:
        print(f"Set passwords for: {', '.join(report.passwords_set)}")
    _print_notices(report.notices)
    return 0


def _confirm(action: str, question: str) -> bool:
    """Ask ``question`` on a terminal; without one, refuse ``action`` and name ``--yes``."""
    from .errors import LabError

    if not sys.stdin.isatty():
        raise LabError(f"{action} needs confirmation", "Add --yes to say yes without a terminal")
    answer = input(f"{question} [y/N] ")
    if answer.strip().lower() in {"y", "yes"}:
        return True
    print("Nothing changed.")
    return False


def _print_notices(notices: list[str]) -> None:
    for notice in notices:
        print(f"Notice: {notice}")


def _reset(args: argparse.Namespace) -> int:
    from . import db, schema

    lab = db.target()
    question = (
        f"Drop database {lab.database!r} with all its data and set it up again?"
        if lab.embedded
        else f"Drop schema retail in {lab.database!r} with all its data and set it up again?"
    )
    if not args.yes and not _confirm("labkit reset", question):
        return 1
    report = schema.reset()
    if lab.embedded:
        print(f"Database {lab.database} recreated; applied {len(report.files)} files.")
    else:
        kept = ", ".join(report.kept_extensions) or "none"
        print(
            f"Schema retail recreated in {lab.database} (the database and its extensions stay:"
            f" {kept}); applied {len(report.files)} files."
        )
    _print_notices(report.notices)
    return 0


def _backup(args: argparse.Namespace) -> int:
    from . import backup, db

    made = backup.backup(args.path, keep=args.keep)
    assert made.manifest is not None
    rows = sum(entry[0] for entry in made.manifest["fingerprint"]["tables"].values())
    print(f"Wrote {made.path} ({backup.human_size(made.size)}) in {made.manifest['seconds']:.2f} s")
    print(f"Manifest {made.manifest_path.name}: roles, and a fingerprint of {rows:,} rows")
    if made.pruned:
        keep = args.keep if args.keep is not None else db.target().settings.backup_keep
        how = "--keep" if args.keep is not None else "LABKIT_BACKUP_KEEP (default 10)"
        print(
            f"Removed {len(made.pruned)} older backups, keeping the newest {keep} ({how}):"
            f" {', '.join(path.name for path in made.pruned)}"
        )
    return 0


def _backups(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import backup, db

    folder = db.target().settings.backup_dir if args.path is None else Path(args.path)
    found = backup.list_backups(folder)
    if not found:
        print(f"No backups in {folder}. Make one with: labkit backup")
        return 0
    print(f"{len(found)} backups in {folder}, newest first:")
    for item in found:
        verified = "" if item.manifest else "  (no manifest)"
        created = f"{item.created_at:%Y-%m-%d %H:%M:%S} UTC"
        print(f"  {item.path.name}  {backup.human_size(item.size):>9}  {created}{verified}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from . import backup, db

    if args.replace_live:
        question = (
            f"Replace database {db.target().database!r} with {args.path}? Every session on it "
            "is disconnected; the current one is kept under another name."
        )
        if not args.yes and not _confirm("Replacing the live database", question):
            return 1
        done = backup.replace_live(args.path, confirm=True)
        print(f"Replaced {done.database} in {done.seconds:.2f} s; verified: nothing lost.")
        print(
            f"The previous database is kept as {done.previous}; drop it when you no longer "
            f"need it: labkit psql -c 'DROP DATABASE {done.previous}'"
        )
        return 0
    made = backup.restore(args.path, args.into)
    print(f"Restored {made.backup.path.name} into database {made.database} in {made.seconds:.2f} s")
    if not made.backup.manifest:
        print("The backup has no manifest: nothing recorded to verify against.")
        return 0
    from . import capabilities

    if not capabilities.of().allows("full_backup"):  # verifying reads every row, too
        print("Not verified: the restore itself needs no more than CREATEDB.")
        return 0
    report = backup.verify(made.backup, made.database)
    print(report)
    return 0 if report.ok else 1


def _verify(args: argparse.Namespace) -> int:
    from . import backup, db
    from .errors import LabError

    checked = backup.open_backup(args.path)
    if not checked.manifest:
        raise LabError(
            f"{checked.path.name} has no manifest ({checked.manifest_path.name}): "
            "there is nothing recorded to verify a restore against",
            f"Restore it with labkit restore {args.path} --into NEW_DB and inspect that database",
        )
    if args.against:
        report = backup.verify(checked, args.against)
    else:
        scratch = f"{db.target().database[:30]}_verify_{os.getpid()}"
        backup.restore(checked, scratch)
        try:
            report = backup.verify(checked, scratch)
        finally:
            backup.drop_database(scratch)
    print(report)
    return 0 if report.ok else 1


def _seed(args: argparse.Namespace) -> int:
    import datetime as dt

    from . import sampledata, schema
    from .errors import LabError

    try:
        end = dt.date.fromisoformat(args.end) if args.end else None
    except ValueError as error:
        raise LabError(
            f"--end must be a date, not {args.end!r}", "Pass e.g. --end 2025-06-30"
        ) from error
    schema.setup()
    report = sampledata.seed(
        args.scale or sampledata.DEFAULT_SCALE,
        seed=sampledata.DEFAULT_SEED if args.seed is None else args.seed,
        customers=args.customers,
        products=args.products,
        transactions=args.transactions,
        end=end,
        quiet=args.quiet,
    )
    print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler | str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
        sub.set_defaults(handler=handler)
        return sub

    add("up", _up, "start the embedded server (creating it on first use)")
    add("down", _down, "stop the embedded server; its data stays")
    add("status", _status, "show whether the server runs, where, its versions and log")
    url = add("url", _url, "print a connection URL for psql, psycopg or SQLAlchemy")
    url.add_argument("--role", help="log in as this role (default: the administrator, postgres)")
    url.add_argument("--driver", help="SQLAlchemy driver, e.g. psycopg for postgresql+psycopg://")
    psql = add("psql", _psql, "open psql on the lab database")
    psql.add_argument("--role", help="log in as this role")
    psql.epilog = "Other arguments go to psql as they are: labkit psql -c 'SELECT 1'"
    add("setup", _setup, "apply sql/ in order (idempotent)")
    reset = add(
        "reset",
        _reset,
        "drop and recreate the lab database (with DATABASE_URL: the lab's schema, not the database)",
    )
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    seed = add("seed", _seed, "replace the sample data with a deterministic draw (one transaction)")
    seed.add_argument("--scale", help="tiny, lab (the default) or large")
    seed.add_argument("--seed", type=int, help="random seed (default: 42)")
    for name in ("customers", "products", "transactions"):
        seed.add_argument(f"--{name}", type=int, help=f"number of {name} (default: the scale's)")
    seed.add_argument("--end", help="sales fall in the 365 days before this date (default: today)")
    seed.add_argument("--quiet", action="store_true", help="no progress bar")
    made = add(
        "backup", _backup, "dump the lab database (custom format) with its roles and a manifest"
    )
    made.add_argument(
        "path",
        nargs="?",
        help="a folder, or a .dump file (default: backups/ beside the data folder)",
    )
    made.add_argument(
        "--keep",
        type=int,
        help="keep the newest N backups (default: LABKIT_BACKUP_KEEP or 10; 0: all)",
    )
    listed = add("backups", _backups, "list the backups, newest first, with size and time")
    listed.add_argument("path", nargs="?", help="the folder (default: as for labkit backup)")
    restored = add("restore", _restore, "restore a backup into a new database, verified")
    restored.add_argument("path", help="the .dump file")
    target = restored.add_mutually_exclusive_group(required=True)
    target.add_argument("--into", metavar="NEW_DB", help="create this database and restore into it")
    target.add_argument(
        "--replace-live", action="store_true", help="put the backup in place of the lab database"
    )
    restored.add_argument("--yes", action="store_true", help="with --replace-live: do not ask")
    checked = add(
        "verify", _verify, "prove a backup restores: into a scratch database, compared, dropped"
    )
    checked.add_argument("path", help="the .dump file")
    checked.add_argument("--against", metavar="DB", help="compare this (restored) database instead")
    # Commands kept in their own modules register here with add(name, "module:function", help).
    from .embed_command import add_commands as add_embed_commands  # argparse only

    add_embed_commands(add)  # embed
    from .mcp.commands import add_commands as add_mcp_commands  # argparse only

    add_mcp_commands(add)  # mcp serve, mcp token
    return parser


def _resolve(handler: Handler | str) -> Handler:
    if callable(handler):
        return handler
    module, _, name = handler.partition(":")
    function: Handler = getattr(importlib.import_module(module), name)
    return function


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader went away (labkit status | head -3): stop quietly. Point stdout
        # at devnull so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a shell reports a program ended by SIGPIPE


def _run(argv: Sequence[str] | None) -> int:
    from .errors import LabError

    parser = build_parser()
    # Only psql takes arguments labkit does not know (they are psql's own).
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "psql":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.psql_args = extra
    try:
        code = int(_resolve(args.handler)(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the handler above
        return code
    except LabError as error:
        print(f"labkit: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
