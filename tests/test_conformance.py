"""The official MCP conformance suite's server scenarios, run twice against the SDK's
conformance "everything server" (tests/servers/everything.py): once served over
Streamable HTTP by the SDK itself, once hosted over stdio by MCP Tray and reached at
its HTTP endpoint. Every scenario that passes directly must pass through MCP Tray.

Asserted at 2025-11-25 and 2025-06-18, where all of them pass both ways (33 and 27
scenarios), and at 2026-07-28 (30 of 40 through MCP Tray): there the multi-round-trip
scenarios still fail (NOT_YET_2026). Every scenario at a revision runs: a leg takes
about ten seconds. The harness cannot be given headers, so tests/servers/bearer.mjs
(with bearer_node_http.mjs for its raw node:http requests) adds the bearer token
`mcp-tray connect --http` would write.

The harness and the Node it needs are npm packages that ``scripts/setup --test``
installs, pinned, under bench/.tools/conformance.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubprocess import HubProcess

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "bench" / ".tools" / "conformance" / "node_modules"
NODE = TOOLS / ".bin" / "node"
HARNESS = TOOLS / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
EVERYTHING = ROOT / "tests" / "servers" / "everything.py"
BEARER = ROOT / "tests" / "servers" / "bearer_node_http.mjs"

# The everything server's tools for these answer input_required themselves, a result
# its SDK refuses to send on a handshake-era connection ("Handler returned an invalid
# result"): they pass when the hub speaks 2026-07-28 to the server (its config's
# "protocolVersion"), not when it relays a 2026 client to the server spoken to at the
# handshake era, whose own sampling, elicitation and roots it bridges instead.
HANDSHAKE_ERA_ONLY_FAILS = frozenset(
    {
        "input-required-result-basic-elicitation",
        "input-required-result-basic-list-roots",
        "input-required-result-basic-sampling",
        "input-required-result-capability-check",
        "input-required-result-multi-round",
        "input-required-result-multiple-input-requests",
        "input-required-result-non-tool-request",
        "input-required-result-request-state",
        "input-required-result-result-type",
        "input-required-result-tampered-state",
    }
)
LEG_TIMEOUT_S = 120.0  # a whole leg takes about 10 s; each scenario has its own 30 s limit
SERVER_START_S = 30.0  # the everything server imports the SDK and starlette in about 2 s
PROBE_S = 0.1  # between tries to connect to it

pytestmark = pytest.mark.skipif(
    not (NODE.exists() and HARNESS.exists()),
    reason="the MCP conformance suite is not installed: run scripts/setup --test",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def run_suite(
    url: str, version: str, output: Path, env: dict[str, str] | None = None
) -> dict[str, bool]:
    """Each scenario the harness runs at ``version`` against ``url``: whether it passed
    (no check failed)."""
    preload = ["--import", BEARER.as_uri()] if env else []
    command = [str(NODE), *preload, str(HARNESS), "server", "--url", url, "--suite", "all"]
    command += ["--spec-version", version, "--output-dir", str(output)]
    finished = subprocess.run(
        command,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=LEG_TIMEOUT_S,
        check=False,
    )
    results = {_scenario(folder): _passed(folder) for folder in output.iterdir()}
    assert results, f"the harness ran no scenario:\n{finished.stdout}\n{finished.stderr}"
    return results


def _scenario(folder: Path) -> str:
    """``server-NAME-2026-12-01T10-59-14-152Z`` → ``NAME``."""
    return folder.name.removeprefix("server-").rsplit("-", 6)[0]


def _passed(folder: Path) -> bool:
    checks = json.loads((folder / "checks.json").read_text())
    return all(check["status"] != "FAILURE" for check in checks)


@pytest.fixture(scope="module")
def direct_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The everything server over Streamable HTTP, served by the SDK."""
    port = free_port()
    log = (tmp_path_factory.mktemp("direct") / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(EVERYTHING), "--port", str(port), "--log-level", "WARNING"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _wait_for_port(port: int, server: subprocess.Popen[bytes]) -> None:
    """Until the server accepts connections, bounded by SERVER_START_S; between tries it
    waits on the process, so one that exits at start fails at once."""
    for _ in range(int(SERVER_START_S / PROBE_S)):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=PROBE_S)
            raise AssertionError(f"the everything server exited at start ({server.returncode})")
    raise AssertionError(f"the everything server did not listen on {port} in {SERVER_START_S}s")


@pytest.fixture(scope="module")
def tray_url(
    tmp_path_factory: pytest.TempPathFactory, secret_service: dict[str, str]
) -> Iterator[tuple[str, dict[str, str]]]:
    """MCP Tray serving the everything server (run over stdio) at its HTTP endpoint; the
    URL and what the harness needs to send the bearer token."""
    home = tmp_path_factory.mktemp("home")
    port = free_port()
    entry = {"command": sys.executable, "args": [str(EVERYTHING), "--stdio"]}
    servers = {"everything": entry, "everything-2026": {**entry, "protocolVersion": "2026-07-28"}}
    config = {"mcpServers": servers, "http": {"enabled": True, "port": port}}
    (home / "config.json").write_text(json.dumps(config))
    hub = HubProcess(home, env=secret_service)
    try:
        hub.wait_for_line(r"HTTP endpoint: http://127\.0\.0\.1")
        hub.wait_for_line(r"everything is running")
        hub.wait_for_line(r"everything-2026 is running")
        token = _install_token(secret_service)
        origin = f"http://127.0.0.1:{port}"
        yield (
            f"{origin}/servers/{{name}}/mcp",
            {"MCP_TRAY_ORIGIN": origin, "MCP_TRAY_TOKEN": token},
        )
    finally:
        hub.stop()


def _install_token(env: dict[str, str]) -> str:
    """The endpoint's bearer token, read from the keyring the hub keeps it in."""
    script = (
        "import keyring; from app.core.endpoint.http import TOKEN_NAME, TOKEN_SCOPE;"
        "print(keyring.get_password(f'mcp-tray/{TOKEN_SCOPE}', TOKEN_NAME))"
    )
    read = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return read.stdout.strip()


@pytest.mark.parametrize(
    ("version", "server"),
    [
        ("2026-07-28", "everything-2026"),  # spoken to at 2026-07-28
        ("2026-07-28", "everything"),  # spoken to at the handshake era: bridged
        ("2025-11-25", "everything"),
        ("2025-06-18", "everything"),
    ],
)
def test_every_scenario_that_passes_directly_passes_through_mcp_tray(
    version: str,
    server: str,
    direct_url: str,
    tray_url: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    direct = run_suite(direct_url, version, tmp_path / "direct")
    url, auth = tray_url
    through = run_suite(url.format(name=server), version, tmp_path / "tray", env=auth)

    passed = sorted(name for name, ok in direct.items() if ok)
    bridged = version == "2026-07-28" and server == "everything"
    expected = [name for name in passed if not (bridged and name in HANDSHAKE_ERA_ONLY_FAILS)]
    lost = [name for name in expected if not through.get(name, False)]
    print(
        f"{version} ({server}): directly {len(passed)}/{len(direct)} scenarios pass, "
        f"through MCP Tray {sum(through.values())}/{len(through)}; failing directly: "
        f"{sorted(set(direct) - set(passed))}, through MCP Tray: "
        f"{sorted(name for name, ok in through.items() if not ok)}"
    )
    assert len(passed) >= 25, f"too few scenarios pass directly to compare: {direct}"
    assert lost == [], f"pass directly but fail through MCP Tray: {lost}"
