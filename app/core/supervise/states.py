"""The per-server state machine: its states and the one function that moves between them.

States are the strings DESIGN.md lists; they appear verbatim in
``status --json`` and in the tray. Every edge of the machine is in
:data:`_EDGES`, with the reason it exists.

Beside the state, a supervisor holds one :class:`Wish`: what the user or the
hub wants of the server next. Asking (Start, Stop, Restart) only sets the
wish; the supervisor's driver alone acts on it and moves the state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class State(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    BACKOFF = "backoff"
    CRASH_LOOP = "crash-loop"
    NEEDS_SECRET = "needs-secret"
    NEEDS_PROGRAM = "needs-program"  # a program it is started with is not on this computer
    NEEDS_SIGN_IN = "needs-sign-in"  # a remote server that takes no request until the user signs in
    DISABLED = "disabled"


class Trigger(enum.Enum):
    START = "start"  # the hub or the user wants it up (also: backoff elapsed, re-probe)
    READY = "ready"  # the initialize handshake succeeded
    FAILED = "failed"  # it exited or timed out, and will be retried after a delay
    PARKED = "parked"  # too many failures in a row, or a start that cannot succeed
    SECRET_MISSING = "secret-missing"
    PROGRAM_MISSING = "program-missing"  # its command is found nowhere, even on the login PATH
    SIGN_IN_NEEDED = "sign-in-needed"  # no token it accepts, and none without the user
    STOP = "stop"  # the user or the hub asks it to stop; the stop sequence begins
    STOPPED = "stopped"  # the process tree is gone


class Goal(enum.Enum):
    RUN = "run"  # keep it up, and bring it back when it fails
    RESTART = "restart"  # end the run or the rest under way, and start again at once
    STOP = "stop"  # end it, and rest in "stopped"
    STOP_THEN_RUN = "stop-then-run"  # Start came while a stop was finishing


@dataclass(frozen=True)
class Wish:
    goal: Goal
    by_user: bool = False  # the user asked: a stop's log line then says so

    @property
    def wanted(self) -> bool:
        """Whether the server is meant to run (it may be resting between tries)."""
        return self.goal in (Goal.RUN, Goal.RESTART)

    @property
    def interrupts(self) -> bool:
        """Whether the run, or the rest, under way is to end now."""
        return self.goal is not Goal.RUN


RUN = Wish(Goal.RUN)


class IllegalTransition(Exception):
    pass


_ANY_LIVE = (
    State.STARTING,
    State.RUNNING,
    State.BACKOFF,
    State.CRASH_LOOP,
    State.NEEDS_SECRET,
    State.NEEDS_PROGRAM,
    State.NEEDS_SIGN_IN,
)

_EDGES: dict[tuple[State, Trigger], State] = {
    # Starting: from rest, after a backoff, as a crash-loop re-probe, once a
    # secret arrives, when the user retries after installing a program, or
    # again after a planned restart's stop, or once the user has signed in.
    **{
        (state, Trigger.START): State.STARTING
        for state in (
            State.STOPPED,
            State.BACKOFF,
            State.CRASH_LOOP,
            State.NEEDS_SECRET,
            State.NEEDS_PROGRAM,
            State.NEEDS_SIGN_IN,
            State.DISABLED,
        )
    },
    (State.STARTING, Trigger.READY): State.RUNNING,
    # A failed start and a crash while running are the same to the user:
    # wait, then try again; or park after too many.
    (State.STARTING, Trigger.FAILED): State.BACKOFF,
    (State.RUNNING, Trigger.FAILED): State.BACKOFF,
    (State.STARTING, Trigger.PARKED): State.CRASH_LOOP,
    (State.RUNNING, Trigger.PARKED): State.CRASH_LOOP,
    (State.STARTING, Trigger.SECRET_MISSING): State.NEEDS_SECRET,
    # Not a crash: no retry can succeed until the user installs it, so it waits
    # for them instead of burning retries (DESIGN.md: deterministic start failures).
    (State.STARTING, Trigger.PROGRAM_MISSING): State.NEEDS_PROGRAM,
    # Only the user can sign in, in a browser: it waits for them, asked once. A
    # running connection meets it when its token can no longer be refreshed.
    (State.STARTING, Trigger.SIGN_IN_NEEDED): State.NEEDS_SIGN_IN,
    (State.RUNNING, Trigger.SIGN_IN_NEEDED): State.NEEDS_SIGN_IN,
    # Stopping can be asked at any moment; from a state with no process the
    # stop completes at once.
    **{(state, Trigger.STOP): State.STOPPING for state in _ANY_LIVE},
    (State.STOPPING, Trigger.STOPPED): State.STOPPED,
    # A planned restart (user, config change, source edit) goes from the
    # stop straight to the next start, without resting in "stopped".
    (State.STOPPING, Trigger.START): State.STARTING,
}


def transition(state: State, trigger: Trigger) -> State:
    try:
        return _EDGES[(state, trigger)]
    except KeyError:
        raise IllegalTransition(f"{trigger.value} is not possible while {state.value}") from None
