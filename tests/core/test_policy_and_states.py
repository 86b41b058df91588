"""The restart policy's pure functions and the per-server state machine."""

from __future__ import annotations

import itertools

import pytest

from app.core.config import RestartPolicy
from app.core.supervise import policy
from app.core.supervise.states import (
    Goal,
    IllegalTransition,
    State,
    Trigger,
    Wish,
    transition,
)

LIMITS = RestartPolicy(
    initial_delay_ms=250, max_delay_ms=60_000, healthy_after_ms=30_000, max_failures=5
)

# ----- backoff


@pytest.mark.parametrize(
    ("failures", "jitter", "expected_s"),
    [
        (1, 0.0, 0.125),  # half the first delay: jitter spreads over the upper half
        (1, 0.5, 0.1875),
        (1, 0.999, 0.2498750),
        (2, 0.0, 0.25),
        (2, 0.5, 0.375),
        (3, 0.0, 0.5),
        (4, 0.5, 1.5),
        (5, 0.25, 2.5),
        (8, 0.0, 16.0),
    ],
)
def test_the_backoff_doubles_with_each_failure_within_its_jitter_band(
    failures: int, jitter: float, expected_s: float
) -> None:
    assert policy.backoff_delay_s(failures, LIMITS, jitter=jitter) == pytest.approx(expected_s)


@pytest.mark.parametrize("failures", [9, 10, 20, 33, 34, 1000])
def test_the_backoff_never_exceeds_the_cap(failures: int) -> None:
    assert policy.backoff_delay_s(failures, LIMITS, jitter=0.0) == pytest.approx(30.0)
    assert policy.backoff_delay_s(failures, LIMITS, jitter=0.5) == pytest.approx(45.0)
    assert policy.backoff_delay_s(failures, LIMITS, jitter=0.999999) < 60.0


def test_the_backoff_reaches_the_cap_exactly_at_its_top_jitter() -> None:
    assert policy.backoff_delay_s(9, LIMITS, jitter=1.0) == pytest.approx(60.0)


@pytest.mark.parametrize("failures", [0, -1])
def test_no_failures_yet_waits_no_longer_than_the_first_delay(failures: int) -> None:
    assert policy.backoff_delay_s(failures, LIMITS, jitter=0.0) == pytest.approx(0.125)


def test_a_zero_first_delay_restarts_at_once_whatever_the_jitter() -> None:
    limits = RestartPolicy(initial_delay_ms=0, max_delay_ms=0)

    for failures, jitter in itertools.product([1, 5, 50], [0.0, 0.5, 0.99]):
        assert policy.backoff_delay_s(failures, limits, jitter=jitter) == 0.0


def test_the_backoff_grows_monotonically_for_a_fixed_jitter() -> None:
    delays = [policy.backoff_delay_s(n, LIMITS, jitter=0.3) for n in range(1, 40)]

    assert delays == sorted(delays)
    assert delays[-1] == pytest.approx(60.0 * 0.65)


# ----- healthy uptime and parking


def test_a_failure_before_healthy_uptime_adds_to_the_count() -> None:
    assert policy.failures_after_exit(0, 0.0, LIMITS) == 1
    assert policy.failures_after_exit(3, 29.999, LIMITS) == 4


@pytest.mark.parametrize("uptime_s", [30.0, 30.001, 3600.0])
def test_a_run_that_reached_healthy_uptime_starts_the_count_afresh(uptime_s: float) -> None:
    assert policy.failures_after_exit(4, uptime_s, LIMITS) == 1


def test_a_server_is_parked_once_failures_reach_the_limit() -> None:
    assert [policy.should_park(n, LIMITS) for n in range(7)] == [
        False,
        False,
        False,
        False,
        False,
        True,
        True,
    ]


def test_a_server_that_crashes_once_a_day_never_drifts_towards_crash_loop() -> None:
    failures = 0
    for _ in range(100):
        failures = policy.failures_after_exit(failures, 86_400.0, LIMITS)
        assert not policy.should_park(failures, LIMITS)


def test_quick_crashes_park_the_server_after_max_failures_exits() -> None:
    failures, exits = 0, 0
    while not policy.should_park(failures, LIMITS):
        failures = policy.failures_after_exit(failures, 0.5, LIMITS)
        exits += 1

    assert exits == LIMITS.max_failures == 5


# ----- the state machine

LEGAL_EDGES = {
    (State.STOPPED, Trigger.START): State.STARTING,
    (State.BACKOFF, Trigger.START): State.STARTING,
    (State.CRASH_LOOP, Trigger.START): State.STARTING,
    (State.NEEDS_SECRET, Trigger.START): State.STARTING,
    (State.NEEDS_PROGRAM, Trigger.START): State.STARTING,
    (State.DISABLED, Trigger.START): State.STARTING,
    (State.STOPPING, Trigger.START): State.STARTING,
    (State.STARTING, Trigger.READY): State.RUNNING,
    (State.STARTING, Trigger.FAILED): State.BACKOFF,
    (State.RUNNING, Trigger.FAILED): State.BACKOFF,
    (State.STARTING, Trigger.PARKED): State.CRASH_LOOP,
    (State.RUNNING, Trigger.PARKED): State.CRASH_LOOP,
    (State.STARTING, Trigger.SECRET_MISSING): State.NEEDS_SECRET,
    (State.STARTING, Trigger.PROGRAM_MISSING): State.NEEDS_PROGRAM,
    (State.STARTING, Trigger.SIGN_IN_NEEDED): State.NEEDS_SIGN_IN,
    (State.RUNNING, Trigger.SIGN_IN_NEEDED): State.NEEDS_SIGN_IN,
    (State.NEEDS_SIGN_IN, Trigger.START): State.STARTING,
    (State.NEEDS_SIGN_IN, Trigger.STOP): State.STOPPING,
    (State.STARTING, Trigger.STOP): State.STOPPING,
    (State.RUNNING, Trigger.STOP): State.STOPPING,
    (State.BACKOFF, Trigger.STOP): State.STOPPING,
    (State.CRASH_LOOP, Trigger.STOP): State.STOPPING,
    (State.NEEDS_SECRET, Trigger.STOP): State.STOPPING,
    (State.NEEDS_PROGRAM, Trigger.STOP): State.STOPPING,
    (State.STOPPING, Trigger.STOPPED): State.STOPPED,
}


def _edge_id(state: State, trigger: Trigger, *rest: State) -> str:
    return "-".join([state.value, trigger.value, *(target.value for target in rest)])


@pytest.mark.parametrize(
    ("state", "trigger", "target"),
    [(state, trigger, target) for (state, trigger), target in LEGAL_EDGES.items()],
    ids=[_edge_id(*edge, target) for edge, target in LEGAL_EDGES.items()],
)
def test_each_legal_edge_leads_to_its_state(state: State, trigger: Trigger, target: State) -> None:
    assert transition(state, trigger) is target


ILLEGAL_EDGES = [edge for edge in itertools.product(State, Trigger) if edge not in LEGAL_EDGES]


@pytest.mark.parametrize(
    ("state", "trigger"), ILLEGAL_EDGES, ids=[_edge_id(*edge) for edge in ILLEGAL_EDGES]
)
def test_every_other_edge_is_illegal(state: State, trigger: Trigger) -> None:
    with pytest.raises(IllegalTransition):
        transition(state, trigger)


def test_an_illegal_transition_says_what_was_tried_and_in_which_state() -> None:
    with pytest.raises(IllegalTransition) as raised:
        transition(State.STOPPED, Trigger.READY)

    assert str(raised.value) == "ready is not possible while stopped"


def test_the_illegal_transition_message_uses_the_user_facing_names() -> None:
    with pytest.raises(
        IllegalTransition, match=r"^secret-missing is not possible while crash-loop$"
    ):
        transition(State.CRASH_LOOP, Trigger.SECRET_MISSING)


def test_state_values_are_the_strings_status_shows() -> None:
    assert sorted(state.value for state in State) == sorted(
        [
            "stopped",
            "starting",
            "running",
            "stopping",
            "backoff",
            "crash-loop",
            "needs-secret",
            "needs-program",
            "needs-sign-in",
            "disabled",
        ]
    )
    assert State.CRASH_LOOP == "crash-loop"  # a StrEnum: JSON shows the string


def test_a_typical_life_crash_restart_park_reprobe_and_stop_is_a_legal_path() -> None:
    path = [
        Trigger.START,
        Trigger.READY,
        Trigger.FAILED,
        Trigger.START,
        Trigger.PARKED,
        Trigger.START,
        Trigger.READY,
        Trigger.STOP,
        Trigger.STOPPED,
    ]
    state = State.STOPPED
    visited = [state]
    for trigger in path:
        state = transition(state, trigger)
        visited.append(state)

    assert visited == [
        State.STOPPED,
        State.STARTING,
        State.RUNNING,
        State.BACKOFF,
        State.STARTING,
        State.CRASH_LOOP,
        State.STARTING,
        State.RUNNING,
        State.STOPPING,
        State.STOPPED,
    ]


# ----- the wish beside the state


@pytest.mark.parametrize(
    ("goal", "wanted", "interrupts"),
    [
        (Goal.RUN, True, False),
        (Goal.RESTART, True, True),
        (Goal.STOP, False, True),
        (Goal.STOP_THEN_RUN, False, True),
    ],
    ids=[goal.value for goal in Goal],
)
def test_a_wish_says_whether_the_server_is_wanted_and_whether_the_run_under_way_ends(
    goal: Goal, wanted: bool, interrupts: bool
) -> None:
    wish = Wish(goal)

    assert (wish.wanted, wish.interrupts) == (wanted, interrupts)
