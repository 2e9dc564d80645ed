"""The HTTP server's boundary: tokens, Origin and Host, sessions bound to their token,
many stores at once, and clean ends (Ctrl-C, a stdio client that goes away).

The protocol-level checks speak raw HTTP (JSON-RPC over POST, as any client sends it),
so that what is refused is the request itself, not something a client library chose.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import psutil
import pytest

import labkit
from labkit import cli
from labkit.mcp import background, client, state
from labkit.mcp.http import url as http_url
from labkit.mcp.tokens import StoreTokens
from tests.helpers import run_labkit
from tests.mcp_support import PROBE, admin_stores_seen, rows, run, shared_server, sql, store_rows

STORES = ("seattle", "redmond", "bellevue", "online")
LEGACY = "2025-06-18"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server() -> Iterator[background.Background]:
    with labkit.connect(autocommit=True) as admin, store_rows(admin, "mcphttp"):
        assert admin_stores_seen(admin) >= set(STORES)  # the control: every store has rows
        yield shared_server()


def token(store: str) -> str:
    return StoreTokens().token(store)


def post(
    url: str,
    message: dict[str, Any],
    *,
    bearer: str | None,
    session: str | None = None,
    **headers: str,
) -> httpx2.Response:
    sent = {**ACCEPT, **headers}
    if bearer is not None:
        sent["Authorization"] = f"Bearer {bearer}"
    if session is not None:
        sent["Mcp-Session-Id"] = session
        sent["MCP-Protocol-Version"] = LEGACY
    return httpx2.post(url, json=message, headers=sent, timeout=60)


def initialize(url: str, bearer: str | None, **headers: str) -> httpx2.Response:
    params = {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    }
    return post(
        url,
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params},
        bearer=bearer,
        **headers,
    )


def open_session(url: str, bearer: str) -> str:
    opened = initialize(url, bearer)
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    done = post(
        url,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        bearer=bearer,
        session=session,
    )
    assert done.status_code == 202, done.text
    return session


def call_probe(url: str, bearer: str | None, session: str) -> httpx2.Response:
    message = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "execute_sales_query", "arguments": {"postgresql_query": PROBE}},
    }
    return post(url, message, bearer=bearer, session=session)


def payload(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC message of a response, whether sent as JSON or as server-sent events."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        found: dict[str, Any] = json.loads(data[-1])
        return found
    decoded: dict[str, Any] = response.json()
    return decoded


def test_a_missing_wrong_or_rotated_token_gets_401_and_nothing_else(
    server: background.Background,
) -> None:
    assert initialize(server.url, token("seattle")).status_code == 200  # the control
    for bearer in (None, "wrong", token("seattle") + "x", token("seattle").upper()):
        refused = initialize(server.url, bearer)
        assert refused.status_code == 401, bearer
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "seattle" not in refused.text and "result" not in refused.text
    # A header the sample trusted chooses nothing here.
    forged = initialize(server.url, None, **{"x-rls-user-id": "seattle"})
    assert forged.status_code == 401
    old = token("bellevue")
    session = open_session(server.url, old)
    new = StoreTokens().rotate("bellevue")
    assert initialize(server.url, old).status_code == 401
    assert initialize(server.url, new).status_code == 200
    # The session belongs to the token that opened it, not to its store.
    assert call_probe(server.url, old, session).status_code == 401
    assert call_probe(server.url, new, session).status_code == 404


def test_a_session_id_replayed_with_another_token_or_none_is_refused(
    server: background.Background,
) -> None:
    session = open_session(server.url, token("seattle"))
    mine = call_probe(server.url, token("seattle"), session)
    assert mine.status_code == 200
    result = payload(mine)["result"]
    assert json.loads(result["content"][0]["text"])["r"][0][0] == "seattle"  # the control
    stolen = call_probe(server.url, token("redmond"), session)
    assert stolen.status_code == 404 and "seattle" not in stolen.text
    assert call_probe(server.url, None, session).status_code == 401
    guessed = call_probe(server.url, token("redmond"), session[:-1] + "0")
    assert guessed.status_code == 404


def test_a_foreign_origin_or_host_is_refused(server: background.Background) -> None:
    port = server.port
    assert (
        initialize(server.url, token("seattle"), Origin=f"http://127.0.0.1:{port}").status_code
        == 200
    )
    assert initialize(server.url, token("seattle"), Origin="http://evil.example").status_code == 403
    assert (
        initialize(server.url, token("seattle"), Origin=f"http://localhost:{port + 1}").status_code
        == 403
    )
    assert initialize(server.url, token("seattle"), Host=f"evil.example:{port}").status_code == 421
    # The refusal is logged on one line, whole, however long the origin.
    far = "http://" + "far-away-" * 12 + "origin.example:8443"
    assert initialize(server.url, token("seattle"), Origin=far).status_code == 403
    assert f"WARNING mcp.server.transport_security: Invalid Origin header: {far}\n" in server.log()


@pytest.mark.slow
def test_eight_clients_of_four_stores_at_once_see_no_foreign_row(
    server: background.Background,
) -> None:
    calls_each = 30
    queries = (PROBE, "SELECT store_id, count(*) FROM retail.sales_transactions GROUP BY 1")

    async def one_client(store: str, mode: str) -> tuple[int, int, list[float]]:
        own = foreign = 0
        took = []
        async with client.over_http(server.url, token(store), mode=mode) as session:
            for call in range(calls_each):
                began = time.perf_counter()
                found = rows(await sql(session, queries[call % 2]))
                took.append(time.perf_counter() - began)
                own += sum(1 for row in found["r"] if row[0] == store)
                foreign += sum(1 for row in found["r"] if row[0] != store)
        return own, foreign, took

    async def all_clients() -> list[tuple[int, int, list[float]]]:
        import asyncio

        # Both protocols at once: the newest (per request) and the legacy one (sessions).
        work = [one_client(store, mode) for store in STORES for mode in ("auto", "legacy")]
        return list(await asyncio.gather(*work))

    began = time.perf_counter()
    results = run(all_clients())
    seconds = time.perf_counter() - began
    calls = sum(len(took) for _, _, took in results)
    latencies = sorted(t for _, _, took in results for t in took)
    print(
        f"\n{calls} calls by 8 clients of 4 stores in {seconds:.1f} s ({calls / seconds:.0f} calls/s);"
        f" median {1000 * latencies[len(latencies) // 2]:.0f} ms, max {1000 * latencies[-1]:.0f} ms;"
        f" own rows {sum(r[0] for r in results)}, foreign rows {sum(r[1] for r in results)}"
    )
    assert calls == 8 * calls_each
    assert all(own == calls_each for own, _, _ in results)  # every call saw its store
    assert sum(foreign for _, foreign, _ in results) == 0


def test_status_shows_the_running_server(server: background.Background) -> None:
    assert {"pid": server.process.pid, "url": server.url} in state.running()
    shown = run_labkit("status")
    assert f"MCP server: {server.url}" in shown.stdout, shown.stdout + shown.stderr


@pytest.mark.slow
def test_ctrl_c_ends_the_http_server_cleanly_and_the_token_is_never_logged() -> None:
    # Started as a shell script's background job is: with SIGINT ignored, which the
    # server inherits (then the exit code was 0, not Ctrl-C's 130).
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        own = background.start()  # its own: this test stops it
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        bearer = token("online")
        session = open_session(own.url, bearer)
        assert call_probe(own.url, bearer, session).status_code == 200
        assert {"pid": own.process.pid, "url": own.url} in state.running()
        code = own.stop()  # SIGINT, as Ctrl-C sends
        log = own.log()
    finally:
        own.stop()
        own.remove_log()
    assert code == 130, log  # the exit code of Ctrl-C, after a clean shutdown
    assert "Traceback" not in log and "MCP server on" in log, log
    assert bearer not in log
    assert all(served["pid"] != own.process.pid for served in state.running())


def server_of_a_kernel() -> tuple[subprocess.Popen[str], int, int]:
    """A process that starts the HTTP server as a notebook does: it, the server's pid, port."""
    kernel = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from labkit.mcp import background\n"
            "own = background.start()\n"
            "print(own.process.pid, own.port, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert kernel.stdout is not None
    pid, port = map(int, kernel.stdout.readline().split())
    return kernel, pid, port


def gone_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` ends (or is a zombie nobody reaped) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_a_server_whose_kernel_was_killed_stops_and_leaves_no_log() -> None:
    kernel, pid, port = server_of_a_kernel()
    try:
        # The control: while its kernel runs, the server runs, recorded, with its log.
        assert {"pid": pid, "url": http_url(port)} in state.running()
        assert state.log_file(port).is_file() and state.state_file(port).is_file()
        kernel.kill()  # no atexit, no finally: what a stopped kernel skips
        kernel.wait(timeout=30)
        assert gone_within(pid, 30), "the server outlived its kernel"
    finally:
        if psutil.pid_exists(pid):
            psutil.Process(pid).kill()
    assert not state.log_file(port).exists(), "its log was left behind"
    assert not state.state_file(port).exists()


@pytest.mark.slow
def test_status_forgets_a_server_killed_with_its_kernel_and_removes_its_log() -> None:
    kernel, pid, port = server_of_a_kernel()
    psutil.Process(pid).kill()  # both at once, as a kernel's process group is killed
    kernel.kill()
    kernel.wait(timeout=30)
    assert gone_within(pid, 30)
    # The control: a killed server cleans nothing up itself.
    assert state.log_file(port).is_file() and state.state_file(port).is_file()
    shown = run_labkit("status")
    assert shown.returncode == 0 and http_url(port) not in shown.stdout, shown.stdout
    assert not state.log_file(port).exists() and not state.state_file(port).exists()


def stdio_server(store: str) -> subprocess.Popen[str]:
    """A stdio server with one handshake done: it is up and serving."""
    command = [sys.executable, "-m", "labkit", "mcp", "serve", "--store", store]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdin and process.stdout
    params = {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    }
    process.stdin.write(
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}) + "\n"
    )
    process.stdin.flush()
    answer = json.loads(process.stdout.readline())
    assert answer["result"]["serverInfo"]["name"] == "zava-retail-sales"
    return process


@pytest.mark.slow
def test_a_stdio_server_ends_when_its_client_goes_away_or_on_ctrl_c() -> None:
    gone, interrupted = stdio_server("seattle"), stdio_server("redmond")
    try:
        assert gone.stdin
        gone.stdin.close()  # the client went away
        interrupted.send_signal(signal.SIGINT)
        gone.wait(timeout=30)
        interrupted.wait(timeout=30)
        assert gone.stderr and interrupted.stderr
        gone_err, interrupted_err = gone.stderr.read(), interrupted.stderr.read()
    finally:
        for process in (gone, interrupted):
            if process.poll() is None:
                process.kill()
    assert gone.returncode == 0 and "Traceback" not in gone_err, gone_err
    assert interrupted.returncode == 130 and "Traceback" not in interrupted_err, interrupted_err


def test_an_unknown_store_is_refused_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["mcp", "serve", "--store", "everywhere"]) == 1
    refused = capsys.readouterr().err
    assert "No store login serves store 'everywhere'" in refused
    assert "seattle, redmond, bellevue, online" in refused
