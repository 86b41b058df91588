"""The event bus and event sentences (app/core/events.py); file locations (app/core/paths.py)."""

from __future__ import annotations

import logging
import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from app.core.events import (
    ConfigProblem,
    EventBus,
    ServerExited,
    ServerLogLine,
    ServerStateChanged,
)
from app.core.paths import HOME_ENV, UnsafeRuntimeDir, default_paths
from app.core.supervise.failure import Failure
from app.core.supervise.states import State

# ----- the event bus


def _state(server: str, state: State = State.RUNNING) -> ServerStateChanged:
    return ServerStateChanged(
        server=server, state=state, previous=State.STARTING, pid=1, restarts=0
    )


def _line(server: str, line: str) -> ServerLogLine:
    return ServerLogLine(server=server, stamp="2025-01-01 00:00:00", line=line)


def test_handlers_see_only_events_of_their_kind_in_publishing_order() -> None:
    bus = EventBus()
    states: list[ServerStateChanged] = []
    lines: list[ServerLogLine] = []
    bus.subscribe(ServerStateChanged, states.append)
    bus.subscribe(ServerLogLine, lines.append)
    published = [_state("a"), _line("a", "one"), _state("b", State.STOPPED), _line("b", "two")]

    for event in published:
        bus.publish(event)

    assert states == [published[0], published[2]]
    assert lines == [published[1], published[3]]


def test_handlers_of_one_event_run_in_subscription_order() -> None:
    bus = EventBus()
    calls: list[str] = []
    for name in ("first", "second", "third"):
        bus.subscribe(ServerLogLine, lambda event, name=name: calls.append(name))

    bus.publish(_line("a", "x"))

    assert calls == ["first", "second", "third"]


def test_a_raising_handler_is_logged_and_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(event: ServerLogLine) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(ServerLogLine, lambda event: seen.append("before"))
    bus.subscribe(ServerLogLine, broken)
    bus.subscribe(ServerLogLine, lambda event: seen.append("after"))

    with caplog.at_level(logging.ERROR, logger="app.core.events"):
        bus.publish(_line("a", "x"))
        bus.publish(_line("a", "y"))

    assert seen == ["before", "after", "before", "after"]
    errors = [r for r in caplog.records if r.name == "app.core.events"]
    assert len(errors) == 2
    assert errors[0].levelno == logging.ERROR
    assert "event handler" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


def test_an_unsubscribed_handler_hears_nothing_more() -> None:
    bus = EventBus()
    kept: list[ServerLogLine] = []
    dropped: list[ServerLogLine] = []
    bus.subscribe(ServerLogLine, kept.append)
    unsubscribe = bus.subscribe(ServerLogLine, dropped.append)
    bus.publish(_line("a", "one"))

    unsubscribe()
    unsubscribe()  # twice is harmless
    bus.publish(_line("a", "two"))

    assert [e.line for e in kept] == ["one", "two"]
    assert [e.line for e in dropped] == ["one"]


def test_a_handler_may_unsubscribe_itself_while_being_called() -> None:
    bus = EventBus()
    calls: list[str] = []
    unsubscribe = bus.subscribe(ServerLogLine, lambda event: (calls.append("once"), unsubscribe()))
    bus.subscribe(ServerLogLine, lambda event: calls.append("other"))

    bus.publish(_line("a", "one"))
    bus.publish(_line("a", "two"))

    assert calls == ["once", "other", "other"]


def test_two_buses_do_not_hear_each_other() -> None:
    first, second = EventBus(), EventBus()
    heard: list[ServerLogLine] = []
    second.subscribe(ServerLogLine, heard.append)

    first.publish(_line("a", "x"))

    assert heard == []


def test_a_config_problem_reaches_only_its_subscribers() -> None:
    bus = EventBus()
    problems: list[ConfigProblem] = []
    states: list[ServerStateChanged] = []
    bus.subscribe(ConfigProblem, problems.append)
    bus.subscribe(ServerStateChanged, states.append)
    problem = ConfigProblem(path="/x/config.json", errors=("a: bad", "b: worse"))

    bus.publish(problem)

    assert problems == [problem]
    assert states == []
    assert problem.describe() == "a: bad\nb: worse"


# ----- event sentences


def test_an_exit_status_is_described_in_a_sentence() -> None:
    exited = ServerExited(server="github", exit_code=1, signal=None, planned=False)

    assert exited.describe() == "github exited with status 1."


def test_a_signal_is_described_by_its_name() -> None:
    exited = ServerExited(server="github", exit_code=None, signal=signal.SIGKILL, planned=True)

    assert exited.describe() == "github was killed by SIGKILL."


def test_an_unknown_signal_number_is_still_described() -> None:
    exited = ServerExited(server="github", exit_code=None, signal=250, planned=False)

    assert exited.describe() == "github was killed by signal 250."


def test_the_description_ends_with_the_last_stderr_line() -> None:
    exited = ServerExited(
        server="db",
        exit_code=3,
        signal=None,
        planned=False,
        last_stderr=("starting", "fatal: cannot open the database"),
    )

    assert exited.describe() == (
        "db exited with status 3. Last output: fatal: cannot open the database"
    )


def test_a_log_line_renders_as_in_the_log_file() -> None:
    assert _line("a", "hello").stamped() == "2025-01-01 00:00:00 hello"


def test_a_lifecycle_line_renders_marked_as_in_the_log_file() -> None:
    event = ServerLogLine(
        server="a", stamp="2025-01-01 00:00:00", line="Restarting in 2 s.", lifecycle=True
    )

    assert event.stamped() == "2025-01-01 00:00:00 » Restarting in 2 s."


def test_an_exit_says_how_it_ended_in_words() -> None:
    exited = ServerExited(server="db", exit_code=3, signal=None, planned=False)
    killed = ServerExited(server="db", exit_code=None, signal=signal.SIGKILL, planned=False)

    assert (exited.how(), killed.how()) == ("exited with status 3", "was killed by SIGKILL")


# ----- paths


def test_mcp_tray_home_puts_every_path_under_it(tray_home: Path) -> None:
    paths = default_paths()

    for path in (
        paths.config_file,
        paths.data_dir,
        paths.state_dir,
        paths.log_dir,
        paths.runtime_dir,
        paths.socket_path,
        paths.lock_path,
        paths.hub_log,
        paths.server_log("github"),
        paths.choices_file,
    ):
        assert path.is_relative_to(tray_home), path
    assert paths.config_file == tray_home / "config.json"
    assert paths.server_log("github") == paths.log_dir / "servers" / "github.log"
    assert paths.socket_path.parent == paths.lock_path.parent == paths.runtime_dir


def test_a_relative_mcp_tray_home_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(HOME_ENV, "portable")

    paths = default_paths()

    assert paths.config_file == tmp_path / "portable" / "config.json"
    assert paths.config_file.is_absolute()


def test_the_config_option_overrides_only_the_config_file(
    tray_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    standard = default_paths()

    paths = default_paths(config_file=Path("elsewhere/my-config.json"))

    assert paths.config_file == tmp_path / "elsewhere" / "my-config.json"
    assert paths.data_dir == standard.data_dir
    assert paths.state_dir == standard.state_dir
    assert paths.log_dir == standard.log_dir
    assert paths.runtime_dir == standard.runtime_dir


def test_the_config_option_expands_the_home_directory(
    tray_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    paths = default_paths(config_file=Path("~/cfg.json"))

    assert paths.config_file == tmp_path / "cfg.json"


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes have no sun_path limit")
def test_a_very_long_home_gets_a_short_runtime_dir_that_stays_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 8)
    monkeypatch.setenv(HOME_ENV, str(deep))

    first, second = default_paths(), default_paths()

    assert first.runtime_dir == second.runtime_dir
    assert len(os.fsencode(first.socket_path)) < 104  # sun_path on macOS; Linux allows 108
    assert not first.runtime_dir.is_relative_to(deep)
    assert first.config_file == deep / "config.json"  # only the runtime dir moves

    monkeypatch.setenv(HOME_ENV, str(deep.with_name("another-rather-long-folder-name")))
    assert default_paths().runtime_dir != first.runtime_dir  # two homes, two hubs


def test_a_short_home_keeps_its_runtime_dir_inside_it(tray_home: Path) -> None:
    assert default_paths().runtime_dir == tray_home / "run"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_ensure_creates_every_directory_and_makes_mcp_trays_own_private(
    tray_home: Path,
) -> None:
    paths = default_paths()
    paths.runtime_dir.mkdir(mode=0o755)  # left behind, too open, by someone else
    os.chmod(paths.runtime_dir, 0o755)
    paths.log_dir.mkdir(mode=0o755)  # made by an earlier MCP Tray
    os.chmod(paths.log_dir, 0o755)

    paths.ensure()
    paths.ensure()  # idempotent

    for directory in (paths.config_file.parent, paths.data_dir, paths.state_dir, paths.log_dir):
        assert directory.is_dir()
    private = (paths.runtime_dir, paths.data_dir, paths.state_dir, paths.log_dir)
    if sys.platform != "win32":
        assert [stat.S_IMODE(d.stat().st_mode) for d in private] == [0o700] * 4
    assert stat.S_IMODE(tray_home.stat().st_mode) != 0o700  # the config's folder: the user's


@pytest.mark.skipif(
    sys.platform == "win32" or os.getuid() != 0,
    reason="handing a folder to another user takes root (POSIX)",
)
def test_ensure_refuses_a_runtime_dir_that_belongs_to_another_user(tray_home: Path) -> None:
    paths = default_paths()
    paths.runtime_dir.mkdir(mode=0o777)
    os.chown(paths.runtime_dir, 4321, 4321)

    with pytest.raises(UnsafeRuntimeDir, match="belongs to another user \\(uid 4321\\)"):
        paths.ensure()

    assert stat.S_IMODE(paths.runtime_dir.stat().st_mode) != 0o700  # left as it was


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX symbolic links and modes")
def test_ensure_refuses_a_runtime_dir_planted_as_a_link_and_leaves_its_target_alone(
    tray_home: Path, tmp_path: Path
) -> None:
    paths = default_paths()
    victim = tmp_path / "victims-home"  # another user's link to a folder of ours
    victim.mkdir(mode=0o755)
    paths.runtime_dir.parent.mkdir(parents=True, exist_ok=True)
    paths.runtime_dir.symlink_to(victim)

    with pytest.raises(UnsafeRuntimeDir, match="is a symbolic link or not a folder"):
        paths.ensure()

    assert stat.S_IMODE(victim.stat().st_mode) == 0o755  # not made 0700
    assert list(victim.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_ensure_makes_a_shortened_runtime_dir_private_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path.joinpath(*["a-rather-long-folder-name"] * 8)))
    paths = default_paths()

    try:
        paths.ensure()
        assert stat.S_IMODE(paths.runtime_dir.stat().st_mode) == 0o700
    finally:
        paths.runtime_dir.rmdir()  # it lives in the system temp dir, outside tmp_path


def test_every_event_kind_survives_the_control_api_stream() -> None:
    import json

    from app.core.events import (
        ConfigApplied,
        ConfigProblem,
        SecretsMissing,
        ServerExited,
        ServerLogLine,
        ServerStateChanged,
        SourcesChanged,
        from_wire,
        to_wire,
    )

    events = [
        ServerStateChanged(
            server="a",
            state=State.RUNNING,
            previous=State.STARTING,
            pid=7,
            restarts=1,
            failure=Failure(phrase="exited with status 3", exit_status=3, last_output=("x", "y")),
        ),
        ServerExited(server="a", exit_code=3, signal=None, planned=False, last_stderr=("x",)),
        ServerLogLine(server="a", stamp="12:00:00", line="hello"),
        ServerLogLine(server="a", stamp="12:00:01", line="Exited with status 3.", lifecycle=True),
        ConfigProblem(path="/c.json", errors=("c.json:1:2: bad",)),
        ConfigApplied(changed=("a", "b")),
        SourcesChanged(server="a", paths=("/p/server.py",)),
        SecretsMissing(server="a", names=("TOKEN",)),
    ]

    decoded = [from_wire(json.loads(json.dumps(to_wire(event)))) for event in events]

    assert decoded == events
    assert isinstance(decoded[0], ServerStateChanged)
    assert (decoded[0].state, decoded[0].previous) == (State.RUNNING, State.STARTING)
    assert type(decoded[0].state) is State  # not the string that travelled
    assert isinstance(decoded[0].failure, Failure)  # not the JSON object that travelled
    assert from_wire({"event": "FromALaterVersion", "fields": {}}) is None


def test_a_log_line_from_a_hub_before_lifecycle_lines_is_the_servers_own() -> None:
    from app.core.events import from_wire

    old_hub = {"event": "ServerLogLine", "fields": {"server": "a", "stamp": "s", "line": "hi"}}

    assert from_wire(old_hub) == ServerLogLine(server="a", stamp="s", line="hi", lifecycle=False)


def test_a_field_from_a_later_hub_is_left_out_rather_than_refused() -> None:
    from app.core.events import from_wire

    later = {
        "event": "ServerLogLine",
        "fields": {"server": "a", "stamp": "s", "line": "hi", "x": 1},
    }

    assert from_wire(later) == ServerLogLine(server="a", stamp="s", line="hi")
