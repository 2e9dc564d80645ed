"""How long the embedded server takes to create, start, restart and set up.

Baseline, measured in the same run: the bundled pg_ctl driven by hand with the
same flags, without labkit (no lock, no status checks, no config file). The
ratio is labkit's cost over doing it by hand.

    python benchmarks/server_start.py [--rounds N] [--record]
"""

from __future__ import annotations

import functools
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable

from harness import arguments, show

from labkit import binaries, schema, settings
from labkit.server import EmbeddedServer, free_port

Timing = dict[str, list[float]]


def _timed(action: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    action(*args)
    return time.perf_counter() - started


def measure(rounds: int) -> Timing:
    results: Timing = {
        "labkit: create + start": [],
        "labkit: stop": [],
        "labkit: start (existing data)": [],
        "labkit: setup, first run": [],
        "labkit: setup, again (no-op)": [],
        "pg_ctl by hand: start (existing data)": [],
        "pg_ctl by hand: stop": [],
    }
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="labkit-bench-") as scratch:
            env = {"LABKIT_DATA_DIR": scratch, "LABKIT_PORT": str(free_port())}
            os.environ.update(env)
            lab = settings.load()
            server = EmbeddedServer(lab)
            results["labkit: create + start"].append(_timed(server.ensure_running))
            results["labkit: setup, first run"].append(_timed(schema.setup))
            results["labkit: setup, again (no-op)"].append(_timed(schema.setup))
            results["labkit: stop"].append(_timed(server.stop))
            # As `labkit up` does: start a server that `labkit down` stopped.
            results["labkit: start (existing data)"].append(
                _timed(functools.partial(server.ensure_running, requested=True))
            )
            server.stop()
            pg_ctl = ["-D", str(server.pgdata)]
            start = [*pg_ctl, "start", "-w", "-l", str(server.log_file)]
            results["pg_ctl by hand: start (existing data)"].append(
                _timed(binaries.run_server_program, "pg_ctl", start, lab)
            )
            stop = [*pg_ctl, "stop", "-w", "-m", "fast"]
            results["pg_ctl by hand: stop"].append(
                _timed(binaries.run_server_program, "pg_ctl", stop, lab)
            )
    return results


def report(results: Timing) -> str:
    median = {name: statistics.median(values) for name, values in results.items()}
    rounds = len(next(iter(results.values())))
    lines = [
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; median of {rounds} rounds.",
        "",
        "| step | median (s) | min (s) | max (s) |",
        "|---|---:|---:|---:|",
    ]
    for name, values in results.items():
        lines.append(f"| {name} | {median[name]:.3f} | {min(values):.3f} | {max(values):.3f} |")
    ratio = (
        median["labkit: start (existing data)"] / median["pg_ctl by hand: start (existing data)"]
    )
    lines += ["", f"labkit start / pg_ctl start by hand: {ratio:.2f}x"]
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    text = report(measure(args.rounds))
    show("Server start-up (`benchmarks/server_start.py`)", text, record_it=args.record)


if __name__ == "__main__":
    main()
