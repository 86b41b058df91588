"""Reading one large NDJSON message: time should grow linearly with its size.

    .venv/bin/python bench/framing.py

Feeds a message of each size to MessageReader the way a pipe delivers it
(64 KiB chunks) and prints the median time and throughput; a constant MB/s
across sizes is what linear means. JSON decoding is included, as in the hub.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from app.core.rpc.framing import MessageReader, encode

SIZES_MB = (1, 5, 10, 20, 50)
PIPE_CHUNK = 64 * 1024
RUNS = 5


class _Chunks:
    """A byte source that hands out one pipe-sized chunk per read."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._at = 0

    async def read(self, n: int = -1) -> bytes:
        chunk = bytes(self._view[self._at : self._at + min(n, PIPE_CHUNK)])
        self._at += len(chunk)
        return chunk


async def _read_once(data: bytes) -> float:
    started = time.perf_counter()
    message = await MessageReader(_Chunks(data)).read()
    elapsed = time.perf_counter() - started
    assert isinstance(message, dict)
    return elapsed


def main() -> None:
    print(f"{'size':>6} {'median s':>9} {'MB/s':>7}   ({RUNS} runs each)")
    for size in SIZES_MB:
        data = encode({"jsonrpc": "2.0", "id": 1, "result": {"text": "x" * (size * 1_000_000)}})
        times = [asyncio.run(_read_once(data)) for _ in range(RUNS)]
        median = statistics.median(times)
        print(f"{size:>4}MB {median:9.3f} {size / median:7.0f}")


if __name__ == "__main__":
    main()
