"""A raw NDJSON JSON-RPC peer, no MCP SDK: every byte it writes is under the test's control.

    python raw_peer.py

Requests it answers (anything else gets method-not-found):

initialize         the usual result, plus the params it received under ``"received"``
ping               {}
echo               its params as the result
fail               an error response: code -32000, message "it failed", data = params
hang               never answered
hold {"count": N, "reverse"?: bool}
                   held until N of them arrived, then all answered, last first
                   unless ``"reverse": false``
ask {"method", "params"?}
                   sends that request to the client and answers with ``{"reply": ...}``
                   once the client's response arrives
notify {"method"}  sends that notification to the client, then answers {}
garbage            writes a line that is not JSON to stdout, then answers {}
notifications      the methods of every notification received so far

Notifications: ``exit`` ends the process at once with status 7; others are recorded.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    peer = Peer()
    for line in sys.stdin.buffer:
        if line.strip():
            peer.handle(json.loads(line))


class Peer:
    def __init__(self) -> None:
        self.held: list[Any] = []
        self.asking: dict[str, Any] = {}  # our request id -> the client's request id
        self.notifications: list[str] = []
        self.next_id = 0

    def handle(self, message: dict[str, Any]) -> None:
        if "method" not in message:
            self.answered(message)
        elif "id" not in message:
            self.notified(message["method"])
        else:
            self.requested(message["id"], message["method"], message.get("params") or {})

    def requested(self, request_id: Any, method: str, params: dict[str, Any]) -> None:
        handler = getattr(self, "on_" + method, None)
        if handler is None:
            self.reply(request_id, error={"code": -32601, "message": f"no method {method}"})
        else:
            handler(request_id, params)

    def on_initialize(self, request_id: Any, params: dict[str, Any]) -> None:
        result = {
            "protocolVersion": params.get("protocolVersion"),
            "capabilities": {},
            "serverInfo": {"name": "raw-peer", "version": "1"},
            "received": params,
        }
        self.reply(request_id, result=result)

    def on_ping(self, request_id: Any, params: dict[str, Any]) -> None:
        self.reply(request_id, result={})

    def on_echo(self, request_id: Any, params: dict[str, Any]) -> None:
        self.reply(request_id, result=params)

    def on_fail(self, request_id: Any, params: dict[str, Any]) -> None:
        self.reply(request_id, error={"code": -32000, "message": "it failed", "data": params})

    def on_hang(self, request_id: Any, params: dict[str, Any]) -> None:
        pass

    def on_hold(self, request_id: Any, params: dict[str, Any]) -> None:
        self.held.append(request_id)
        if len(self.held) >= params["count"]:
            order = reversed if params.get("reverse", True) else list
            for held_id in order(self.held):
                self.reply(held_id, result={"id": held_id})
            self.held.clear()

    def on_ask(self, request_id: Any, params: dict[str, Any]) -> None:
        self.next_id += 1
        ask_id = f"peer-{self.next_id}"
        self.asking[ask_id] = request_id
        request = {"jsonrpc": "2.0", "id": ask_id, "method": params["method"]}
        if "params" in params:
            request["params"] = params["params"]
        write(request)

    def on_notify(self, request_id: Any, params: dict[str, Any]) -> None:
        write({"jsonrpc": "2.0", "method": params["method"]})
        self.reply(request_id, result={})

    def on_garbage(self, request_id: Any, params: dict[str, Any]) -> None:
        sys.stdout.buffer.write(b"hello from a stray print()\n")
        self.reply(request_id, result={})

    def on_notifications(self, request_id: Any, params: dict[str, Any]) -> None:
        self.reply(request_id, result={"methods": self.notifications})

    def answered(self, message: dict[str, Any]) -> None:
        client_request = self.asking.pop(message.get("id"), None)
        if client_request is not None:
            self.reply(client_request, result={"reply": message})

    def notified(self, method: str) -> None:
        if method == "exit":
            sys.stdout.flush()
            raise SystemExit(7)
        self.notifications.append(method)

    def reply(self, request_id: Any, **outcome: Any) -> None:
        write({"jsonrpc": "2.0", "id": request_id, **outcome})


def write(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(json.dumps(message).encode() + b"\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
