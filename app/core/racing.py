"""Waiting for the first of several tasks, and leaving none of the others behind.

A run waits for its server to answer, exit or be stopped; an HTTP exchange for
its answer, its client leaving or falling behind. The first to finish decides;
the others are cancelled and awaited, also when the wait itself is cancelled (a
task group above it failing, say): a racer left running would outlive the wait
that started it, one more each time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any


async def first_done(racers: Collection[asyncio.Future[Any]]) -> set[asyncio.Future[Any]]:
    """Wait until one of ``racers`` is done; those done then. Every other is cancelled
    and has ended when this returns or raises."""
    try:
        done, _ = await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for racer in racers:
            racer.cancel()
        await asyncio.gather(*racers, return_exceptions=True)
    return done
