"""What the tray's path costs next to talking to a server directly, measured on real processes.

    .venv/bin/python bench/relay.py [--runs N]

One hub (``mcp-tray serve`` with a temporary ``MCP_TRAY_HOME``) supervises
two servers: bench/servers/fast.py, which answers straight from its pipe so
that a round trip measures the path to it, and bench/servers/echo.py, the
``mcp`` SDK's server, as slow as a real one. Each measurement is taken
"direct" (a client spawns the server itself and talks over its stdio) and
"attach" (the client spawns ``mcp-tray attach NAME``, the byte pump that
editors run, which reaches the hub's relay and the one shared server process).
A second hub runs inside the tray app (Qt offscreen), as users run it, for
one row: its attach round trip against ``serve``'s. Another row takes the
same hops through two byte pumps that only copy (bench/servers/pump.py): the
least two extra processes cost on this machine, next to what the hub adds.

1. the round trip of a trivial ``tools/call`` to the fast server with a raw
   NDJSON client (pipes and JSON lines, so that the client itself costs
   almost nothing), and what the hub adds to it (attach minus direct); the
   same with the ``mcp`` SDK's client against both servers; the median of
   ``CALLS_PER_RUN`` calls;
2. process start until the ``initialize`` answer: attaching to the warm
   server against spawning the server;
3. calls per second with one and with ``CLIENTS`` raw clients attached at
   once (a fixed total of calls, split among them);
4. a ``BIG_MIB`` MiB tool result, from writing the request until the whole
   answer line has been read;
5. the round trip of a ``tools/call`` over Streamable HTTP, with a raw HTTP
   client and with the SDK's client: MCP Tray's endpoint against the same
   server behind ``mcp-proxy`` (PyPI) and behind ``supergateway`` (npm), all
   three in the same run with the same client. Those two are installed
   under bench/.tools on first use; without the package registries the row
   says so and is left out;
6. the round trip of a 2026-07-28 single exchange (one POST, no session, the
   envelope in ``params._meta``) with a raw HTTP client: a ``tools/call`` to
   the SDK's server through MCP Tray's endpoint, which reaches the server over
   stdio, against the same request to the server's own Streamable HTTP
   endpoint (``echo.py --http``).

Direct and attach samples are taken in the same run, one after the other, so
that each run gives a ratio free of the machine's drift. Every run is
preceded by one warm-up run whose samples are thrown away. Prints one table
(median, min and max over the runs) with the targets and whether each is met.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Self

import anyio
import httpx2
from benchkit import EXIT_TIMEOUT_S, ROOT, Hub, free_port, npm_tool, python_tool, wait_for_port
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

SDK_SERVER = [sys.executable, str(ROOT / "bench" / "servers" / "echo.py")]
FAST_SERVER = [sys.executable, str(ROOT / "bench" / "servers" / "fast.py")]
PUMP = ROOT / "bench" / "servers" / "pump.py"
DIRECT = {"echo": SDK_SERVER, "fast": FAST_SERVER}  # what a client spawns, by server name
ATTACH = {name: [sys.executable, "-m", "app", "attach", name] for name in DIRECT}

CALLS_PER_RUN = 200  # per client and run, for the latency medians
THROUGHPUT_CALLS = 400  # per run, split among the clients
CLIENTS = 4
BIG_MIB = 20
MIB = 1024 * 1024
# A read allocates all it asks for: 1 MiB reads cost the client more than a hop it measures.
READ_CHUNK_BYTES = 64 * 1024

HUB_READY_TIMEOUT_S = 60.0  # the first start may compile the SDK's bytecode
START_TIMEOUT_S = 30.0  # a client's process start until its initialize answer
CALL_TIMEOUT_S = 10.0  # a trivial call, even on a loaded two-core machine
BIG_TIMEOUT_S = 60.0  # 20 MiB encoded, relayed and decoded a few times over
PHASE_TIMEOUT_S = 120.0  # a whole SDK phase (the SDK client's connect is not bounded per call)

INITIALIZE_PARAMS: dict[str, Any] = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "mcp-tray-bench", "version": "0"},
}
ECHO_ARGUMENTS: dict[str, Any] = {"text": "ping"}
ECHO_PARAMS = {"name": "echo", "arguments": ECHO_ARGUMENTS}
SINGLE_EXCHANGE = "2026-07-28"  # the revision without a session: a request is one POST
ENVELOPE = {  # what a 2026-07-28 request carries in params._meta instead of an initialize
    "io.modelcontextprotocol/protocolVersion": SINGLE_EXCHANGE,
    "io.modelcontextprotocol/clientCapabilities": INITIALIZE_PARAMS["capabilities"],
    "io.modelcontextprotocol/clientInfo": INITIALIZE_PARAMS["clientInfo"],
}
NAME_BEARING = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}  # Mcp-Name

Endpoint = tuple[str, str | None]  # a URL, and the bearer token it asks for
Sample = dict[str, float]  # one run: a value per measured quantity
Samples = dict[str, list[float]]  # all runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs after a warm-up")
    runs = parser.parse_args().runs
    started = time.perf_counter()
    http = {"http": {"enabled": True, "port": free_port()}}
    servers = {name: {"command": argv[0], "args": argv[1:]} for name, argv in DIRECT.items()}
    with Hub(servers, http) as hub, Hub(servers, tray=True) as tray:
        hub.wait_for("HTTP endpoint:", HUB_READY_TIMEOUT_S)
        for name in DIRECT:
            hub.wait_for(f"{name} is running", HUB_READY_TIMEOUT_S)
            tray.wait_for(f"{name} is running", HUB_READY_TIMEOUT_S)
        rows = [
            *raw_latency_rows(hub.env, tray.env, runs),
            *sdk_latency_rows(hub.env, runs),
            *attach_time_rows(hub.env, runs),
            *throughput_rows(hub.env, runs),
            *big_result_rows(hub.env, runs),
            *http_latency_rows(hub, http["http"]["port"], runs),
            *single_exchange_rows(hub, http["http"]["port"], runs),
        ]
    print_table(rows, runs)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())  # others' work skews the numbers
    elapsed = time.perf_counter() - started
    print(f"\ntotal {elapsed:.0f} s on {os.cpu_count()} CPUs; load average {load}")


# ----- the measurements


def raw_latency_rows(env: dict[str, str], tray_env: dict[str, str], runs: int) -> list[Row]:
    """Direct, through ``mcp-tray serve``, through the tray app's hub (``tray_env``), and
    through two byte pumps: the same hops with nothing done in them (bench/servers/pump.py)."""
    with (
        pumps_to(DIRECT["fast"]) as pumped,
        RawClient(DIRECT["fast"], env=env) as direct,
        RawClient(ATTACH["fast"], env=env) as attach,
        RawClient(ATTACH["fast"], env=tray_env) as tray,
        RawClient(pumped, env=env) as pumps,
    ):
        clients = {"direct": direct, "attach": attach, "tray": tray, "pumps": pumps}
        for client in clients.values():
            client.initialize()
        samples = collect(
            runs,
            lambda: {
                name: 1e6 * statistics.median(raw_latencies(client))
                for name, client in clients.items()
            },
        )
    added = [a - d for a, d in zip(samples["attach"], samples["direct"], strict=True)]
    pumped_added = [p - d for p, d in zip(samples["pumps"], samples["direct"], strict=True)]
    return [
        Row("raw client, fast server: tools/call, direct", samples["direct"], "µs"),
        Row("raw client, fast server: tools/call, attach", samples["attach"], "µs"),
        Row("raw client, fast server: the hub adds", added, "µs", at_most(150)),
        Row("raw client, fast server: two byte pumps add", pumped_added, "µs"),
        Row("raw client, fast server: attach, tray app", samples["tray"], "µs"),
        Row(
            "attach round trip: tray app / serve",
            ratio(samples, "tray", "attach"),
            "x",
            at_most(1.1),
        ),
    ]


def raw_latencies(client: RawClient) -> list[float]:
    durations = []
    for _ in range(CALLS_PER_RUN):
        started = time.perf_counter()
        client.request("tools/call", ECHO_PARAMS)
        durations.append(time.perf_counter() - started)
    return durations


def sdk_latency_rows(env: dict[str, str], runs: int) -> list[Row]:
    rows = []
    for name, kind in (("fast", "fast server"), ("echo", "SDK server")):
        samples = anyio.run(sdk_latency_samples, env, name, runs)
        rows += latency_rows(f"SDK client, {kind}", samples, ratio_target=at_most(1.5))
    return rows


async def sdk_latency_samples(env: dict[str, str], name: str, runs: int) -> Samples:
    with anyio.fail_after(PHASE_TIMEOUT_S):
        async with (
            sdk_client(DIRECT[name], env) as direct,
            sdk_client(ATTACH[name], env) as attach,
        ):

            async def once() -> Sample:
                return {
                    "direct": 1000 * statistics.median(await sdk_latencies(direct)),
                    "attach": 1000 * statistics.median(await sdk_latencies(attach)),
                }

            return await collect_async(runs, once)


@contextlib.asynccontextmanager
async def sdk_client(command: list[str], env: dict[str, str]) -> AsyncIterator[Client]:
    server = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=ROOT)
    async with Client(server, mode="legacy", read_timeout_seconds=CALL_TIMEOUT_S) as client:
        yield client


async def sdk_latencies(client: Client) -> list[float]:
    durations = []
    for _ in range(CALLS_PER_RUN):
        started = time.perf_counter()
        result = await client.call_tool("echo", ECHO_ARGUMENTS)
        durations.append(time.perf_counter() - started)
        if result.is_error:
            raise RuntimeError(f"echo failed: {result.content}")
    return durations


def latency_rows(client: str, samples: Samples, *, ratio_target: Target) -> list[Row]:
    return [
        Row(f"{client}: tools/call, direct", samples["direct"], "ms"),
        Row(f"{client}: tools/call, attach", samples["attach"], "ms"),
        Row(f"{client}: attach / direct", ratio(samples, "attach", "direct"), "x", ratio_target),
    ]


def attach_time_rows(env: dict[str, str], runs: int) -> list[Row]:
    samples = collect(
        runs,
        lambda: {
            "spawn": seconds_to_initialize(DIRECT["echo"], env),
            "attach": seconds_to_initialize(ATTACH["echo"], env),
        },
    )
    return [
        Row("start → initialize answer, spawn server", seconds_as_ms(samples["spawn"]), "ms"),
        Row("start → initialize answer, attach", seconds_as_ms(samples["attach"]), "ms"),
        Row(
            "start → initialize: spawn / attach",
            ratio(samples, "spawn", "attach"),
            "x",
            at_least(5),
        ),
    ]


def seconds_to_initialize(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    with RawClient(command, env=env) as client:
        client.request("initialize", INITIALIZE_PARAMS, timeout=START_TIMEOUT_S)
        return time.perf_counter() - started


def throughput_rows(env: dict[str, str], runs: int) -> list[Row]:
    with contextlib.ExitStack() as stack:
        direct = stack.enter_context(RawClient(DIRECT["fast"], env=env))
        attached = [stack.enter_context(RawClient(ATTACH["fast"], env=env)) for _ in range(CLIENTS)]
        for client in [direct, *attached]:
            client.initialize()
        samples = collect(
            runs,
            lambda: {
                "direct": calls_per_second([direct]),
                "one": calls_per_second(attached[:1]),
                "many": calls_per_second(attached),
            },
        )
    return [
        Row("throughput, 1 raw client, direct", samples["direct"], "calls/s"),
        Row("throughput, 1 raw client, attach", samples["one"], "calls/s"),
        Row(f"throughput, {CLIENTS} raw clients, attach", samples["many"], "calls/s"),
    ]


def calls_per_second(clients: list[RawClient]) -> float:
    """``THROUGHPUT_CALLS`` echo calls split among ``clients``, each on its own thread."""
    per_client = THROUGHPUT_CALLS // len(clients)

    def work(client: RawClient) -> None:
        for _ in range(per_client):
            client.request("tools/call", ECHO_PARAMS)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        # Each call is bounded by CALL_TIMEOUT_S, so the threads end even when this raises.
        list(pool.map(work, clients, timeout=per_client * CALL_TIMEOUT_S))
    return per_client * len(clients) / (time.perf_counter() - started)


def big_result_rows(env: dict[str, str], runs: int) -> list[Row]:
    with (
        RawClient(DIRECT["echo"], env=env) as direct,
        RawClient(ATTACH["echo"], env=env) as attach,
    ):
        direct.initialize()
        attach.initialize()
        samples = collect(
            runs,
            lambda: {"direct": big_result_seconds(direct), "attach": big_result_seconds(attach)},
        )
    return [
        Row(f"{BIG_MIB} MiB tool result, direct", samples["direct"], "s"),
        Row(f"{BIG_MIB} MiB tool result, attach", samples["attach"], "s", at_most(1.0)),
        Row(
            f"{BIG_MIB} MiB tool result: attach / direct",
            ratio(samples, "attach", "direct"),
            "x",
            at_most(1.5),
        ),
    ]


def big_result_seconds(client: RawClient) -> float:
    """From writing the request until the whole answer line is read; checked afterwards."""
    started = time.perf_counter()
    request_id = client.send_request(
        "tools/call", {"name": "big", "arguments": {"megabytes": BIG_MIB}}
    )
    line = client.read_line(BIG_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    text = client.result(line, request_id)["content"][0]["text"]
    if len(text) != BIG_MIB * MIB:
        raise RuntimeError(f"big answered {len(text)} characters instead of {BIG_MIB * MIB}")
    return elapsed


def http_latency_rows(hub: Hub, port: int, runs: int) -> list[Row]:
    tray = tray_endpoint(hub, port, "fast")
    try:
        proxy_port, gateway_port = free_port(), free_port()
        proxy = [
            str(python_tool("mcp-proxy", "mcp-proxy")),
            *("--host", "127.0.0.1", "--port", str(proxy_port), "--pass-environment"),
            *DIRECT["fast"],
        ]
        gateway = [
            str(npm_tool("supergateway@4", "supergateway")),
            *("--stdio", " ".join(DIRECT["fast"]), "--outputTransport", "streamableHttp"),
            *("--stateful", "--port", str(gateway_port)),
        ]
    except (subprocess.CalledProcessError, OSError) as error:
        print(f"HTTP comparison left out: mcp-proxy or supergateway not installed ({error})")
        return []
    with running(proxy) as _, running(gateway) as _:
        wait_for_port(proxy_port, HUB_READY_TIMEOUT_S)
        wait_for_port(gateway_port, HUB_READY_TIMEOUT_S)
        endpoints = {
            "MCP Tray": tray,
            "mcp-proxy": (f"http://127.0.0.1:{proxy_port}/mcp", None),
            "supergateway": (f"http://127.0.0.1:{gateway_port}/mcp", None),
        }
        rows = []
        for client, measure in (("raw", raw_http_samples), ("SDK", http_latency_samples)):
            samples = anyio.run(measure, endpoints, runs)
            rows += [
                *(
                    Row(f"{client} client over HTTP: tools/call, {name}", samples[name], "ms")
                    for name in endpoints
                ),
                Row(
                    f"{client} client over HTTP: MCP Tray / mcp-proxy",
                    ratio(samples, "MCP Tray", "mcp-proxy"),
                    "x",
                    at_most(0.5),
                ),
                Row(
                    f"{client} client over HTTP: MCP Tray / supergateway",
                    ratio(samples, "MCP Tray", "supergateway"),
                    "x",
                ),
            ]
    return rows


def single_exchange_rows(hub: Hub, port: int, runs: int) -> list[Row]:
    """The SDK's server over HTTP on its own, and behind MCP Tray's endpoint (over stdio)."""
    own_port = free_port()
    with running([*DIRECT["echo"], "--http", str(own_port)]) as _:
        wait_for_port(own_port, HUB_READY_TIMEOUT_S)
        endpoints = {
            "MCP Tray": tray_endpoint(hub, port, "echo"),
            "own": (f"http://127.0.0.1:{own_port}/mcp", None),
        }
        samples = anyio.run(raw_http_samples, endpoints, runs, SingleExchangeClient)
    label = f"raw client, {SINGLE_EXCHANGE}, SDK server"
    return [
        Row(f"{label}: tools/call, its own endpoint", samples["own"], "ms"),
        Row(f"{label}: tools/call, MCP Tray", samples["MCP Tray"], "ms"),
        Row(f"{label}: MCP Tray / its own", ratio(samples, "MCP Tray", "own"), "x"),
    ]


def tray_endpoint(hub: Hub, port: int, server: str) -> Endpoint:
    return f"http://127.0.0.1:{port}/servers/{server}/mcp", hub.secret("_http", "token")


@contextlib.contextmanager
def pumps_to(server: list[str]) -> Iterator[list[str]]:
    """A pump listening for the server, and the command of the pump a client spawns."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "pump.sock")
        pump = [sys.executable, str(PUMP)]
        listening = subprocess.Popen(
            [*pump, "serve", path, "--", *server], stdout=subprocess.PIPE, text=True
        )
        try:
            assert listening.stdout is not None
            if listening.stdout.readline().strip() != "listening":
                raise RuntimeError("bench/servers/pump.py did not start")
            yield [*pump, path]
        finally:
            listening.kill()
            listening.wait(EXIT_TIMEOUT_S)
            listening.stdout.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def running(command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(EXIT_TIMEOUT_S)


async def http_latency_samples(endpoints: dict[str, Endpoint], runs: int) -> Samples:
    with anyio.fail_after(PHASE_TIMEOUT_S):
        async with contextlib.AsyncExitStack() as stack:
            clients = {
                name: await stack.enter_async_context(http_client(url, token))
                for name, (url, token) in endpoints.items()
            }

            async def once() -> Sample:
                return {
                    name: 1000 * statistics.median(await sdk_latencies(client))
                    for name, client in clients.items()
                }

            return await collect_async(runs, once)


class RawHttpClient:
    """Streamable HTTP by hand: one POST per request, its whole answer read (JSON or SSE).

    In the handshake era: an ``initialize`` first, then its session on every request.
    """

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self._http = http
        self._url = url
        self._ids = itertools.count(1)

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(cls, url: str, token: str | None) -> AsyncIterator[RawHttpClient]:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        }
        async with httpx2.AsyncClient(headers=headers, timeout=CALL_TIMEOUT_S) as http:
            client = cls(http, url)
            await client.start()
            yield client

    async def start(self) -> None:
        answer = await self.post("initialize", INITIALIZE_PARAMS)
        session = answer.headers.get("mcp-session-id")
        if session is not None:
            self._http.headers["Mcp-Session-Id"] = session
        self._http.headers["MCP-Protocol-Version"] = INITIALIZE_PARAMS["protocolVersion"]
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await self._http.post(self._url, json=initialized)

    def framed(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """The params a request is sent with, and the headers it adds to every request's."""
        return params, {}

    async def post(self, method: str, params: dict[str, Any]) -> httpx2.Response:
        sent, headers = self.framed(method, params)
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": sent}
        answer = await self._http.post(self._url, json=request, headers=headers)
        if answer.status_code != 200 or b'"result"' not in answer.content:
            raise RuntimeError(f"{self._url}: {answer.status_code} {answer.text[:300]}")
        return answer

    async def latencies(self) -> list[float]:
        durations = []
        for _ in range(CALLS_PER_RUN):
            started = time.perf_counter()
            await self.post("tools/call", ECHO_PARAMS)
            durations.append(time.perf_counter() - started)
        return durations


class SingleExchangeClient(RawHttpClient):
    """2026-07-28 by hand: no ``initialize`` and no session; each request carries its
    envelope in ``params._meta`` and says in headers what the body holds, which the
    server checks."""

    async def start(self) -> None:
        self._http.headers["MCP-Protocol-Version"] = SINGLE_EXCHANGE

    def framed(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        key = NAME_BEARING.get(method)
        routing = {"Mcp-Method": method, **({"Mcp-Name": params[key]} if key else {})}
        return {**params, "_meta": ENVELOPE}, routing


async def raw_http_samples(
    endpoints: dict[str, Endpoint], runs: int, kind: type[RawHttpClient] = RawHttpClient
) -> Samples:
    """As http_latency_samples, with a client that is only HTTP requests: what the
    endpoints cost without the SDK client's own work."""
    with anyio.fail_after(PHASE_TIMEOUT_S):
        async with contextlib.AsyncExitStack() as stack:
            clients = {
                name: await stack.enter_async_context(kind.opened(url, token))
                for name, (url, token) in endpoints.items()
            }

            async def once() -> Sample:
                return {
                    name: 1000 * statistics.median(await client.latencies())
                    for name, client in clients.items()
                }

            return await collect_async(runs, once)


@contextlib.asynccontextmanager
async def http_client(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=CALL_TIMEOUT_S) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode="legacy", read_timeout_seconds=CALL_TIMEOUT_S) as client:
            yield client


# ----- runs and the table


def collect(runs: int, once: Callable[[], Sample]) -> Samples:
    once()  # warm-up: bytecode and page caches, the server's first-call paths
    return merge([once() for _ in range(runs)])


async def collect_async(runs: int, once: Callable[[], Awaitable[Sample]]) -> Samples:
    await once()  # warm-up, as in collect()
    return merge([await once() for _ in range(runs)])


def merge(samples: list[Sample]) -> Samples:
    merged: Samples = defaultdict(list)
    for sample in samples:
        for key, value in sample.items():
            merged[key].append(value)
    return merged


def ratio(samples: Samples, numerator: str, denominator: str) -> list[float]:
    """Per run, so that both sides of each ratio saw the same machine."""
    return [a / b for a, b in zip(samples[numerator], samples[denominator], strict=True)]


def seconds_as_ms(values: list[float]) -> list[float]:
    return [1000 * value for value in values]


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[float], bool]


def at_most(limit: float) -> Target:
    return Target(f"≤ {limit:g}", lambda value: value <= limit)


def at_least(limit: float) -> Target:
    return Target(f"≥ {limit:g}", lambda value: value >= limit)


@dataclass(frozen=True)
class Row:
    label: str
    samples: list[float]
    unit: str
    target: Target | None = None  # judged on the median

    def cells(self) -> list[str]:
        decimals = {"µs": 0, "ms": 3, "s": 3, "x": 2, "calls/s": 0}[self.unit]
        values = [statistics.median(self.samples), min(self.samples), max(self.samples)]
        cells = [f"{value:9.{decimals}f}" for value in values]
        if self.target is None:
            return [*cells, self.unit, "", ""]
        met = "yes" if self.target.met(values[0]) else "NO"
        return [*cells, self.unit, self.target.text, met]


def print_table(rows: list[Row], runs: int) -> None:
    width = max(len(row.label) for row in rows)
    print(
        f"{'measurement':<{width}} {'median':>9} {'min':>9} {'max':>9} "
        f"{'unit':<7} {'target':<7} met   ({runs} runs after a warm-up)"
    )
    for row in rows:
        median, low, high, unit, target, met = row.cells()
        print(f"{row.label:<{width}} {median} {low} {high} {unit:<7} {target:<7} {met}")


# ----- processes


class RawClient:
    """An MCP client that is only pipes and JSON lines, so that it costs next to nothing itself.

    Every read is bounded: the pipe is polled until the deadline.
    """

    def __init__(self, command: list[str], *, env: dict[str, str]) -> None:
        self.command = command
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=ROOT, bufsize=0
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin.fileno()
        self._stdout = self.process.stdout.fileno()
        self._poll = select.poll()
        self._poll.register(self._stdout, select.POLLIN)
        self._rest = b""  # what was read after the end of the last line
        self._ids = itertools.count(1)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def initialize(self) -> None:
        self.request("initialize", INITIALIZE_PARAMS, timeout=START_TIMEOUT_S)
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def request(
        self, method: str, params: dict[str, Any], *, timeout: float = CALL_TIMEOUT_S
    ) -> dict[str, Any]:
        """Send a request and give its result, skipping notifications that come first."""
        request_id = self.send_request(method, params)
        deadline = time.monotonic() + timeout
        while "method" in (message := json.loads(self.read_line(deadline - time.monotonic()))):
            pass  # a notification (none expected from the bench server, but legal)
        return self._result(message, request_id)

    def send_request(self, method: str, params: dict[str, Any]) -> int:
        request_id = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return request_id

    def result(self, line: bytes, request_id: int) -> dict[str, Any]:
        """The result in ``line``, which must be the answer to ``request_id``."""
        return self._result(json.loads(line), request_id)

    def _result(self, answer: dict[str, Any], request_id: int) -> dict[str, Any]:
        if answer.get("id") != request_id or "result" not in answer:
            raise RuntimeError(f"{self.command}: unexpected answer {str(answer)[:300]}")
        result: dict[str, Any] = answer["result"]
        return result

    def read_line(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        chunks = [self._rest]
        newline = self._rest.find(b"\n")
        while newline == -1:  # only the newest chunk is searched: linear in the line's size
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._poll.poll(remaining * 1000):
                raise TimeoutError(f"{self.command}: no answer within {timeout:.1f} s")
            chunk = os.read(self._stdout, READ_CHUNK_BYTES)
            if not chunk:
                raise EOFError(f"{self.command} closed its output")
            chunks.append(chunk)
            newline = chunk.find(b"\n")
        last = chunks.pop()
        self._rest = last[newline + 1 :]
        return b"".join([*chunks, last[:newline]])

    def _send(self, message: dict[str, Any]) -> None:
        data = memoryview(json.dumps(message).encode() + b"\n")
        while data:  # small requests: the pipe takes them whole unless the peer is stuck
            data = data[os.write(self._stdin, data) :]

    def close(self) -> None:
        """Close its stdin and wait, bounded, for it to exit; kill it if it does not."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(EXIT_TIMEOUT_S)
        self.process.stdout.close()


if __name__ == "__main__":
    main()
