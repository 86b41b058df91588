"""When to restart a server, and when to stop trying: pure functions.

Backoff starts near zero because the user is usually mid-conversation when a
server dies, grows exponentially to a cap of about a minute, and is jittered
so that servers that crashed together do not restart in lockstep. A stretch
of healthy uptime forgets earlier failures. After ``max_failures``
consecutive failures the server is parked in crash-loop, re-probed slowly.
"""

from __future__ import annotations

from typing import Protocol


class RestartLimits(Protocol):
    """The fields of the config's ``restart`` block that this module reads."""

    @property
    def max_failures(self) -> int: ...
    @property
    def initial_delay_ms(self) -> int: ...
    @property
    def max_delay_ms(self) -> int: ...
    @property
    def healthy_after_ms(self) -> int: ...


def failures_after_exit(failures: int, uptime_s: float, limits: RestartLimits) -> int:
    """The consecutive-failure count once a server has ended unexpectedly.

    A run that reached healthy uptime starts the count afresh, so a server
    that crashes once a day never drifts towards crash-loop.
    """
    if uptime_s * 1000 >= limits.healthy_after_ms:
        return 1
    return failures + 1


def should_park(failures: int, limits: RestartLimits) -> bool:
    return failures >= limits.max_failures


def backoff_delay_s(failures: int, limits: RestartLimits, *, jitter: float) -> float:
    """Seconds to wait before the next start after ``failures`` consecutive failures.

    ``jitter`` is a number in [0, 1) supplied by the caller (``random.random()``
    in the hub, fixed values in tests); it spreads the delay over its upper half.
    """
    exponent = min(max(failures - 1, 0), 32)
    ceiling = min(limits.initial_delay_ms * (1 << exponent), limits.max_delay_ms) / 1000
    return ceiling * (0.5 + jitter / 2)
