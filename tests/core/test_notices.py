"""Which hub events become desktop notices, which replace or withdraw each other, and how
a flapping server is kept quiet.

The events are the ones the supervisor publishes, in the order it publishes
them, on a real EventBus; tests/gui checks the same with real servers on a
real desktop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest

from app.core.config.schema import SERVER_NAME_PATTERN
from app.core.events import (
    ConfigApplied,
    ConfigProblem,
    EventBus,
    SecretsMissing,
    ServerExited,
    ServerStateChanged,
    ToolsHeld,
)
from app.core.notices import (
    APP_SLOT,
    CONFIG_SLOT,
    INFO_TIMEOUT_MS,
    Notice,
    NoticeKind,
    Notices,
    Urgency,
)
from app.core.signin.auth import SIGNED_OUT
from app.core.supervise.failure import Failure
from app.core.supervise.programs import MissingProgram, path_missing
from app.core.supervise.states import State

pytestmark = pytest.mark.anyio

WAIT_S = 5.0
WINDOW_S = 0.2  # a short crash window, so that summaries are due within the test


class Desktop:
    """What the notices asked the desktop to do, in order: Notice or ("withdraw", slot)."""

    def __init__(self) -> None:
        self.calls: list[Notice | tuple[str, str]] = []
        self._arrived = asyncio.Event()

    def show(self, notice: Notice) -> None:
        self.calls.append(notice)
        self._arrived.set()

    def withdraw(self, slot: str) -> None:
        self.calls.append(("withdraw", slot))
        self._arrived.set()

    @property
    def shown(self) -> list[Notice]:
        return [call for call in self.calls if isinstance(call, Notice)]

    def summary(self) -> list[str]:
        """Each call as "kind slot" or "withdraw slot"."""
        return [
            f"{call.kind} {call.slot}" if isinstance(call, Notice) else " ".join(call)
            for call in self.calls
        ]

    async def next(self, count: int) -> Notice:
        """The ``count``-th notice shown, waiting for it."""
        async with asyncio.timeout(WAIT_S):
            while len(self.shown) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.shown[count - 1]


def watch(bus: EventBus, **options: float) -> tuple[Notices, Desktop]:
    desktop = Desktop()
    return Notices(bus, desktop.show, desktop.withdraw, **options), desktop


async def timers_due_within(seconds: float) -> None:
    """Until every timer the loop has that falls due within ``seconds`` has run: the loop
    runs due timers in deadline order, so one set later than them all runs after them."""
    loop = asyncio.get_running_loop()
    passed = loop.create_future()
    loop.call_later(seconds, passed.set_result, None)
    async with asyncio.timeout(seconds + WAIT_S):
        await passed


def state(server: str, new: str, previous: str, error: str | None = None) -> ServerStateChanged:
    return ServerStateChanged(
        server=server,
        state=State(new),
        previous=State(previous),
        pid=4242,
        restarts=0,
        failure=Failure.from_text(error) if error else None,
    )


def crash(server: str, code: int = 3, line: str = "fatal: database locked") -> ServerExited:
    return ServerExited(
        server=server, exit_code=code, signal=None, planned=False, last_stderr=("x", line)
    )


def crash_and_recover(bus: EventBus, server: str = "files") -> None:
    bus.publish(crash(server))
    bus.publish(state(server, "backoff", "running", "exited with status 3. Last output: …"))
    bus.publish(state(server, "starting", "backoff"))
    bus.publish(state(server, "running", "starting"))


def park(bus: EventBus, server: str = "files", failures: int = 3) -> None:
    for _ in range(failures):  # failed starts, none of them reaching running
        bus.publish(state(server, "starting", "backoff"))
        bus.publish(crash(server))
        bus.publish(state(server, "backoff", "starting", "exited with status 3"))
    bus.publish(state(server, "crash-loop", "starting", "exited with status 3"))


# ----- keeps crashing, and running again


async def test_a_crash_loop_is_one_critical_notice_that_stays_however_often_it_re_parks() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    park(bus)
    for _ in range(2):  # slow re-probes that park it again
        bus.publish(state("files", "starting", "crash-loop"))
        bus.publish(state("files", "crash-loop", "starting", "exited with status 3"))

    (notice,) = desktop.calls
    assert isinstance(notice, Notice)
    assert (notice.kind, notice.slot) == (NoticeKind.CRASH_LOOP, "files")
    assert notice.title == "files keeps crashing"
    assert notice.body == (
        "It stopped with an error. MCP Tray paused it and tries again every few minutes."
        "\nIt last said: fatal: database locked"
    )
    assert (notice.urgency, notice.timeout_ms) == (Urgency.CRITICAL, 0)
    assert notice.actions == (("logs", "Show logs"), ("restart", "Try again"))


async def test_a_remote_server_that_cannot_be_reached_is_told_so_not_as_a_crash() -> None:
    bus = EventBus()
    _, desktop = watch(bus)
    unreachable = "could not be reached (cannot connect: All connection attempts failed)"

    bus.publish(
        dataclasses.replace(state("web", "crash-loop", "starting", unreachable), remote=True)
    )
    bus.publish(dataclasses.replace(state("web", "running", "starting"), remote=True))

    parked, recovered = desktop.shown
    assert parked.title == "web can't connect"
    assert parked.body.startswith("Nothing answers at its address: the server may be down")
    assert recovered.body == "It could not be reached for a while."


async def test_running_again_replaces_the_crash_notice_with_a_normal_one_that_expires() -> None:
    bus = EventBus()
    _, desktop = watch(bus)
    park(bus)

    bus.publish(state("files", "starting", "crash-loop"))
    bus.publish(state("files", "running", "starting"))

    assert desktop.summary() == ["crash-loop files", "recovered files"]  # same slot: replaced
    recovered = desktop.shown[1]
    assert recovered.title == "files is running again"
    assert (recovered.urgency, recovered.timeout_ms) == (Urgency.NORMAL, INFO_TIMEOUT_MS)
    assert recovered.actions == (("logs", "Show logs"),)


async def test_a_server_that_parks_again_after_running_is_told_again() -> None:
    bus = EventBus()
    _, desktop = watch(bus)
    park(bus)
    bus.publish(state("files", "running", "starting"))

    park(bus)

    assert desktop.summary() == ["crash-loop files", "recovered files", "crash-loop files"]


@pytest.mark.parametrize("how", ["stopped", "disabled"])
async def test_stopping_or_removing_a_parked_server_withdraws_its_notice(how: str) -> None:
    """Removing a server from the config stops it: the same "stopped" state."""
    bus = EventBus()
    _, desktop = watch(bus)
    park(bus)

    bus.publish(state("files", "stopping", "crash-loop"))
    bus.publish(state("files", how, "stopping"))
    bus.publish(state("files", "starting", how))  # started again: a fresh start, told afresh
    park(bus)

    assert desktop.summary() == ["crash-loop files", "withdraw files", "crash-loop files"]


async def test_stopping_a_server_with_nothing_on_screen_withdraws_nothing() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(state("files", "running", "starting"))
    bus.publish(state("files", "stopping", "running"))
    bus.publish(state("files", "stopped", "stopping"))

    assert desktop.calls == []


async def test_one_servers_notices_never_touch_anothers() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    park(bus, "files")
    park(bus, "weather")
    bus.publish(state("files", "running", "starting"))
    bus.publish(state("weather", "stopped", "stopping"))

    assert desktop.summary() == [
        "crash-loop files",
        "crash-loop weather",
        "recovered files",
        "withdraw weather",
    ]


# ----- crashes the hub recovered from


async def test_a_crash_the_hub_recovered_from_is_a_normal_notice_with_what_happened() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    crash_and_recover(bus)

    (notice,) = desktop.shown
    assert (notice.kind, notice.slot) == (NoticeKind.RESTARTED, "files")
    assert notice.title == "files crashed and was restarted"
    assert notice.body == "It stopped with an error.\nIt last said: fatal: database locked"
    assert (notice.urgency, notice.timeout_ms) == (Urgency.NORMAL, INFO_TIMEOUT_MS)
    assert notice.actions == (("logs", "Show logs"),)


async def test_a_hung_server_that_was_restarted_is_told_it_stopped_responding() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(ServerExited(server="files", exit_code=None, signal=9, planned=False))
    bus.publish(state("files", "backoff", "running", "stopped answering (3 pings in a row …)"))
    bus.publish(state("files", "starting", "backoff"))
    bus.publish(state("files", "running", "starting"))

    assert [n.body for n in desktop.shown] == ["It stopped responding."]


async def test_a_flapping_server_gets_one_notice_and_then_a_summary_in_its_slot() -> None:
    bus = EventBus()
    _, desktop = watch(bus, window_s=WINDOW_S)

    for _ in range(4):
        crash_and_recover(bus)
    summary = await desktop.next(2)

    assert desktop.summary() == ["restarted files", "restarted files"]
    assert summary.title == "files crashed again"
    assert summary.body == (
        "It crashed and was restarted 3 more times in the last minute. It is running now."
    )


async def test_a_summary_told_while_the_server_is_between_restarts_says_so() -> None:
    bus = EventBus()
    _, desktop = watch(bus, window_s=WINDOW_S)
    crash_and_recover(bus)
    crash_and_recover(bus)
    bus.publish(crash("files"))
    bus.publish(state("files", "backoff", "running", "exited with status 3"))

    summary = await desktop.next(2)

    assert summary.body == (
        "It crashed and was restarted once more in the last minute. MCP Tray is restarting it."
    )


@pytest.mark.parametrize("recovers", [False, True])
async def test_a_pending_summary_is_dropped_when_the_server_parks(recovers: bool) -> None:
    bus = EventBus()
    _, desktop = watch(bus, window_s=WINDOW_S)
    for _ in range(3):
        crash_and_recover(bus)

    park(bus)
    if recovers:
        bus.publish(state("files", "running", "starting"))
    await timers_due_within(2 * WINDOW_S)

    told = ["restarted files", "crash-loop files"]
    assert desktop.summary() == ([*told, "recovered files"] if recovers else told)


async def test_a_pending_summary_is_dropped_when_the_server_is_stopped() -> None:
    bus = EventBus()
    _, desktop = watch(bus, window_s=WINDOW_S)
    for _ in range(3):
        crash_and_recover(bus)

    bus.publish(state("files", "stopping", "running"))
    bus.publish(state("files", "stopped", "stopping"))
    await timers_due_within(2 * WINDOW_S)

    assert desktop.summary() == ["restarted files", "withdraw files"]


async def test_closing_cancels_a_pending_summary() -> None:
    bus = EventBus()
    notices, desktop = watch(bus, window_s=WINDOW_S)
    for _ in range(3):
        crash_and_recover(bus)

    notices.close()
    await timers_due_within(2 * WINDOW_S)
    park(bus)  # no longer listening either

    assert desktop.summary() == ["restarted files"]


async def test_restart_notices_can_be_muted_but_crash_loops_cannot() -> None:
    bus = EventBus()
    notices, desktop = watch(bus)
    notices.mute_restarts = True

    crash_and_recover(bus)
    park(bus)

    assert desktop.summary() == ["crash-loop files"]


async def test_planned_stops_and_restarts_are_not_crashes() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(ServerExited(server="files", exit_code=0, signal=None, planned=True))
    bus.publish(state("files", "running", "starting"))
    bus.publish(crash("files"))
    bus.publish(state("files", "stopped", "stopping"))
    bus.publish(state("files", "running", "starting"))

    assert desktop.calls == []


# ----- secrets


async def test_a_missing_secret_is_one_critical_notice_per_wait_with_its_names() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(state("github", "needs-secret", "starting"))
    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))
    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))

    (notice,) = desktop.calls
    assert isinstance(notice, Notice)
    assert (notice.kind, notice.secrets) == (NoticeKind.NEEDS_SECRET, ("GITHUB_TOKEN",))
    assert (notice.title, notice.body) == ("github needs a secret", "Set GITHUB_TOKEN to start it.")
    assert (notice.urgency, notice.timeout_ms) == (Urgency.CRITICAL, 0)
    assert notice.actions == (("secret", "Set secret…"),)


async def test_the_secret_notice_is_withdrawn_once_the_server_runs() -> None:
    bus = EventBus()
    _, desktop = watch(bus)
    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))

    bus.publish(state("github", "starting", "needs-secret"))
    bus.publish(state("github", "running", "starting"))

    assert desktop.summary() == ["needs-secret github", "withdraw github"]


async def test_a_server_that_crashed_then_waited_for_a_secret_is_not_told_as_a_crash() -> None:
    bus = EventBus()
    _, desktop = watch(bus)
    bus.publish(crash("github"))
    bus.publish(state("github", "backoff", "running", "exited with status 3"))
    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))  # it was deleted

    bus.publish(state("github", "starting", "needs-secret"))
    bus.publish(state("github", "running", "starting"))

    assert desktop.summary() == ["needs-secret github", "withdraw github"]


async def test_a_server_stopped_while_it_waits_for_a_secret_asks_again_at_its_next_start() -> None:
    bus = EventBus()
    _, desktop = watch(bus)
    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))

    bus.publish(state("github", "stopping", "needs-secret"))
    bus.publish(state("github", "stopped", "stopping"))
    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))

    assert desktop.summary() == [
        "needs-secret github",
        "withdraw github",
        "needs-secret github",
    ]


# ----- the config

CONFIG_ERROR = (
    '/home/ada/.config/mcp-tray/config.json:4:7: mcpServers.a.comand: unknown key "comand"'
)


async def test_a_config_error_is_critical_names_file_line_and_column_and_is_not_repeated() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(ConfigProblem(path="/x", errors=(CONFIG_ERROR, "second problem")))
    bus.publish(ConfigProblem(path="/x", errors=(CONFIG_ERROR, "second problem")))

    (notice,) = desktop.calls
    assert isinstance(notice, Notice)
    assert (notice.kind, notice.slot) == (NoticeKind.CONFIG_ERROR, CONFIG_SLOT)
    assert notice.title == "The config file has a mistake"
    assert notice.body.startswith(
        'config.json, line 4, column 7: mcpServers.a.comand: unknown key "comand" (and 1 more)\n'
    )
    assert (notice.urgency, notice.timeout_ms) == (Urgency.CRITICAL, 0)
    assert notice.actions == (("open-config", "Open config"),)


async def test_a_fixed_config_replaces_the_error_with_one_short_notice_said_once() -> None:
    bus = EventBus()
    _, desktop = watch(bus)
    bus.publish(ConfigApplied(changed=()))  # a clean start: nothing to say
    bus.publish(ConfigProblem(path="/x", errors=(CONFIG_ERROR,)))

    bus.publish(ConfigApplied(changed=("a",)))
    bus.publish(ConfigApplied(changed=()))

    assert desktop.summary() == [f"config-error {CONFIG_SLOT}", f"config-fixed {CONFIG_SLOT}"]
    fixed = desktop.shown[1]
    assert fixed.title == "The config is fixed"
    assert (fixed.urgency, fixed.timeout_ms) == (Urgency.NORMAL, INFO_TIMEOUT_MS)


async def test_the_same_config_error_after_a_fix_is_told_again() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    for _ in range(2):
        bus.publish(ConfigProblem(path="/x", errors=(CONFIG_ERROR,)))
        bus.publish(ConfigApplied(changed=()))

    assert [n.kind for n in desktop.shown] == [
        NoticeKind.CONFIG_ERROR,
        NoticeKind.CONFIG_FIXED,
        NoticeKind.CONFIG_ERROR,
        NoticeKind.CONFIG_FIXED,
    ]


def test_no_server_name_can_take_the_configs_slot() -> None:
    assert not SERVER_NAME_PATTERN.fullmatch(CONFIG_SLOT)


# ----- the words


JARGON = re.compile(
    r"crash-loop|needs-secret|exited with status|status \d|pid|4242|`|mcp-tray |initialize"
    r"|SIGKILL|signal",
    re.IGNORECASE,
)


async def test_no_notice_title_speaks_jargon_and_no_body_has_command_lines_or_pids() -> None:
    bus = EventBus()
    _, desktop = watch(bus, window_s=WINDOW_S)
    missing_secret = (
        "needs the secret API_KEY: set it from the tray or with `mcp-tray secret set api API_KEY`"
    )

    park(bus, "files")
    bus.publish(state("files", "running", "starting"))
    crash_and_recover(bus, "notes")
    for reason in (
        "did not answer the MCP initialize request within 120s",
        "refused the MCP initialize request: bad version",
        "closed its input or output without answering the MCP initialize request",
        missing_secret,
    ):
        server = f"s{len(desktop.calls)}"
        bus.publish(state(server, "crash-loop", "starting", reason))
    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))
    bus.publish(ConfigProblem(path="/x", errors=(CONFIG_ERROR,)))
    bus.publish(ConfigApplied(changed=()))

    assert len(desktop.shown) == 10
    for notice in desktop.shown:
        assert not JARGON.search(notice.title), notice.title
    bodies = [notice.body for notice in desktop.shown]
    assert not [body for body in bodies if re.search(r"`|mcp-tray |4242|crash-loop", body)]
    assert (
        "It started but did not answer MCP Tray within 120 seconds. "
        "MCP Tray paused it and tries again every few minutes." in bodies
    )
    assert (
        "Needs the secret API_KEY: set it from the tray. "
        "MCP Tray paused it and tries again every few minutes." in (bodies)
    )


def test_what_the_tray_says_of_itself_has_a_slot_of_its_own_and_expires() -> None:
    said = Notice(kind=NoticeKind.APP, server=None, title="MCP Tray keeps running", body="…")

    assert said.slot == APP_SLOT != CONFIG_SLOT
    assert said.urgency is Urgency.NORMAL and said.timeout_ms > 0
    assert said.actions == ()


# ----- needs a program


def needs_program(server: str, command: str) -> ServerStateChanged:
    program = MissingProgram(command)
    return ServerStateChanged(
        server=server,
        state=State.NEEDS_PROGRAM,
        previous=State.STARTING,
        pid=None,
        restarts=0,
        failure=Failure(phrase=program.phrase(), missing_program=command),
    )


@pytest.mark.parametrize(
    ("command", "title", "body"),
    [
        (
            "npx",
            "github needs Node.js",
            "This server needs Node.js (npx), which is not installed. "
            "Get it from nodejs.org, then press Retry.",
        ),
        (
            "/opt/tools/uvx",
            "github needs uv",
            "This server needs uv (uvx), which is not installed. "
            "Get it from docs.astral.sh/uv, then press Retry.",
        ),
        (
            "my-tool",
            "github needs the program my-tool",
            "This server needs the program my-tool, which is not installed. "
            "Install it, then press Retry.",
        ),
    ],
)
async def test_a_missing_program_is_a_critical_notice_naming_it_and_where_to_get_it(
    command: str, title: str, body: str
) -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(state("github", "starting", "stopped"))
    bus.publish(needs_program("github", command))

    (notice,) = desktop.shown
    assert (notice.kind, notice.title, notice.body) == (NoticeKind.NEEDS_PROGRAM, title, body)
    assert notice.actions[0] == ("restart", "Retry")
    assert notice.urgency is Urgency.CRITICAL and notice.timeout_ms == 0


async def test_a_program_path_that_does_not_exist_is_a_setting_to_fix_not_one_to_install() -> None:
    bus = EventBus()
    _, desktop = watch(bus)
    phrase = path_missing("./build/index.js", "/home/me/my-server")

    bus.publish(state("mine", "starting", "stopped"))
    bus.publish(state("mine", "crash-loop", "starting", phrase))

    (notice,) = desktop.shown
    assert notice.kind is NoticeKind.CRASH_LOOP
    assert notice.body == (
        "Its program ./build/index.js does not exist (in /home/me/my-server); check the program "
        "in the server's settings — a server you build yourself may need building first. "
        "MCP Tray paused it and tries again every few minutes."
    )


async def test_a_retry_that_finds_no_program_says_so_again_and_one_that_runs_withdraws_it() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(needs_program("github", "npx"))
    bus.publish(state("github", "starting", "needs-program"))
    bus.publish(needs_program("github", "npx"))
    bus.publish(state("github", "starting", "needs-program"))
    bus.publish(state("github", "running", "starting"))

    assert desktop.summary() == [
        "needs-program github",
        "needs-program github",
        "withdraw github",
    ]


# ----- needs a sign-in


async def test_a_server_that_needs_a_sign_in_is_told_once_with_a_sign_in_button() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(state("linear", "needs-sign-in", "running", "needs you to sign in"))
    bus.publish(state("linear", "starting", "needs-sign-in"))  # the user tried Start
    bus.publish(state("linear", "needs-sign-in", "starting", "needs you to sign in"))
    bus.publish(state("linear", "running", "starting"))  # signed in

    assert desktop.summary() == ["needs-sign-in linear", "withdraw linear"]
    (notice,) = desktop.shown
    assert notice.title == "Sign in to linear to use its tools"
    assert notice.body == "Press Sign in: your browser opens its sign-in page."
    assert notice.actions == (("sign-in", "Sign in"),)
    assert notice.urgency is Urgency.CRITICAL


async def test_an_expired_sign_in_says_so_and_one_the_user_signed_out_of_is_not_told() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    expired = "needs you to sign in again: its sign-in has expired"
    bus.publish(state("linear", "needs-sign-in", "running", expired))
    bus.publish(state("notion", "needs-sign-in", "running", SIGNED_OUT))

    assert [n.body for n in desktop.shown] == [
        "Your sign-in has expired. Press Sign in: your browser opens its sign-in page."
    ]


# ----- tools held for review


async def test_tools_a_server_changed_are_told_with_a_review_button() -> None:
    bus = EventBus()
    _, desktop = watch(bus)

    bus.publish(ToolsHeld(server="github", tools=("create_issue", "push")))

    (notice,) = desktop.shown
    assert notice.title == "github has 2 new or changed tools; review them"
    assert notice.body == (
        "MCP Tray keeps create_issue and push from your apps until you have looked at them."
    )
    assert notice.actions == (("review-tools", "Review"),)
    assert notice.urgency is Urgency.CRITICAL
