"""The least two extra processes can cost: byte pumps that do nothing but copy.

    python bench/servers/pump.py serve SOCKET -- COMMAND ARGS...   (one pump: socket <-> COMMAND)
    python bench/servers/pump.py SOCKET                            (the other: stdio <-> socket)

The first listens on a Unix socket and, for each connection, runs COMMAND
and copies bytes between the two; the second copies between its own stdio and
that socket. A client that spawns the second reaches the server through the
same hops as through ``mcp-tray attach`` and the hub (client, pump, pump,
server), with no reading of the messages at all: bench/relay.py measures the
hub against it.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys

CHUNK = 64 * 1024


def pump(pairs: dict[int, int]) -> None:
    """Copy from each readable descriptor to its partner until one side ends."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with selectors.DefaultSelector() as selector:
        for source in pairs:
            selector.register(source, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                count = os.readv(key.fd, [buffer])
                if count == 0:
                    return
                written = 0
                while written < count:
                    written += os.write(pairs[key.fd], view[written:count])


def serve(path: str, command: list[str]) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    print("listening", flush=True)
    while True:
        connection, _ = listener.accept()
        server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert server.stdin is not None and server.stdout is not None
        peer = connection.fileno()
        pump({peer: server.stdin.fileno(), server.stdout.fileno(): peer})
        server.kill()
        connection.close()


def connect(path: str) -> None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    pump({0: connection.fileno(), connection.fileno(): 1})


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[4:])
    else:
        connect(sys.argv[1])
