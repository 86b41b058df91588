"""plan(): what a config change does to each server, as data (no hub, no process)."""

from __future__ import annotations

from app.core.config import ServerConfig
from app.core.reconcile import Launch, Plan, plan

ECHO = ServerConfig(command="echo")
CAT = ServerConfig(command="cat")


def test_the_first_config_adds_and_starts_every_server() -> None:
    steps = plan({}, {"a": ECHO, "b": CAT})

    assert steps == Plan(add=("a", "b"), launch={"a": Launch.START, "b": Launch.START})
    assert steps.changed == ["a", "b"]


def test_an_unchanged_config_touches_nothing() -> None:
    steps = plan({"a": ECHO}, {"a": ServerConfig(command="echo")})

    assert steps == Plan(leave=("a",))
    assert steps.changed == []


def test_a_server_that_left_the_config_is_removed_and_not_launched() -> None:
    steps = plan({"a": ECHO, "b": CAT}, {"b": CAT})

    assert steps.remove == ("a",)
    assert steps.leave == ("b",)
    assert steps.launch == {}
    assert steps.changed == ["a"]


def test_a_changed_entry_is_replaced_and_started_with_its_new_settings() -> None:
    steps = plan({"a": ECHO}, {"a": ServerConfig(command="echo", args=["-n"])})

    assert steps.replace == ("a",)
    assert steps.launch == {"a": Launch.START}
    assert steps.changed == ["a"]


def test_a_change_that_only_disables_a_server_replaces_it_and_leaves_it_idle() -> None:
    steps = plan({"a": ECHO}, {"a": ServerConfig(command="echo", disabled=True)})

    assert steps.replace == ("a",)
    assert steps.launch == {"a": Launch.IDLE}


def test_an_unshared_server_waits_for_its_first_client() -> None:
    steps = plan({}, {"solo": ServerConfig(command="echo", shared=False)})

    assert steps.launch == {"solo": Launch.IDLE}


def test_a_server_the_user_stopped_stays_stopped_when_added_or_replaced() -> None:
    old = {"kept": ECHO, "edited": ECHO}
    new = {"kept": ECHO, "edited": CAT, "back": CAT}

    steps = plan(old, new, stopped_by_user={"kept", "edited", "back"})

    assert steps.leave == ("kept",)
    assert steps.launch == {"edited": Launch.KEEP_STOPPED, "back": Launch.KEEP_STOPPED}


def test_disabled_wins_over_the_users_stop() -> None:
    steps = plan({}, {"a": ServerConfig(command="echo", disabled=True)}, stopped_by_user={"a"})

    assert steps.launch == {"a": Launch.IDLE}


def test_launches_follow_the_new_configs_order() -> None:
    steps = plan({"b": ECHO}, {"c": ECHO, "b": CAT, "a": ECHO})

    assert list(steps.launch) == ["c", "b", "a"]
    assert steps.changed == ["a", "b", "c"]


def test_a_change_of_restart_policy_alone_is_a_change() -> None:
    slow = ServerConfig.model_validate({"command": "echo", "restart": {"maxFailures": 9}})

    assert plan({"a": ECHO}, {"a": slow}).replace == ("a",)


def test_a_change_of_tool_switches_alone_retunes_the_server_without_replacing_it() -> None:
    old = {"notes": ServerConfig(command="notes")}
    switched = ServerConfig.model_validate({"command": "notes", "tools": {"disabled": ["rm"]}})
    moved = ServerConfig.model_validate(
        {"command": "notes2", "tools": {"disabled": ["rm"]}, "trustChanges": True}
    )

    assert plan(old, {"notes": switched}) == Plan(retune=("notes",))
    assert plan(old, {"notes": switched}).changed == ["notes"]
    # Tools and the command together: the new command needs a new process.
    assert plan(old, {"notes": moved}).replace == ("notes",)
