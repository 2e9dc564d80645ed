"""The HTTP server in the background, for notebooks: started, waited for, and always stopped.

``start()`` runs ``labkit mcp serve --http`` as a child process that also stops by
itself when the process that started it ends (a kernel that died), and is stopped
at exit; while it runs, ``labkit status`` shows it. Its log is in the data folder,
removed at exit, by the server itself once its kernel is gone, or by ``labkit
status`` once both are.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from ..server import free_port
from . import http, state


@dataclass
class Background:
    """A running HTTP server: its URL, and ``stop()``."""

    port: int
    process: subprocess.Popen[bytes] = field(repr=False)
    log_file: Path = field(repr=False)

    @property
    def url(self) -> str:
        return http.url(self.port)

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """Stop the server (as Ctrl-C does) and wait for it; returns its exit code."""
        if self.running:
            self.process.send_signal(2)  # SIGINT: a clean shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def remove_log(self) -> None:
        with contextlib.suppress(OSError):
            self.log_file.unlink()


def start(port: int | None = None, *, timeout: float = 30.0) -> Background:
    """Start the HTTP server and wait until it accepts connections."""
    port = port or free_port()
    command = [sys.executable, "-m", "labkit", "mcp", "serve", "--http", "--port", str(port)]
    command += ["--exit-with", str(os.getpid())]
    log = state.log_file(port)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=stderr)
    server = Background(port, process, log)
    atexit.register(server.remove_log)
    atexit.register(server.stop)  # runs first: atexit calls in reverse order
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running:
            raise LabError(
                f"The MCP server stopped at start (exit code {process.returncode}):"
                f" {server.log().strip()[-500:]}",
                "Is the port taken? Try another with start(port=...)",
            )
        with contextlib.suppress(OSError), socket.create_connection((http.HOST, port), 0.2):
            return server
        time.sleep(0.1)
    server.stop()
    raise LabError(f"The MCP server did not start within {timeout:.0f} s", "Check `labkit status`")
