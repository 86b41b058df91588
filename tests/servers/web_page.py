"""A web site, not an MCP server, for tests: every request to http://127.0.0.1:PORT/
gets 200 and a small HTML page, as a mistyped address might. It prints "listening"
on stderr once it takes connections.

    python web_page.py PORT
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"<!doctype html><html><body><h1>Welcome to our product</h1></body></html>"


class Page(BaseHTTPRequestHandler):
    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    do_GET = do_POST = do_DELETE = answer  # noqa: N815 - the names http.server calls

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads only "listening" from stderr


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Page)
    print("listening", file=sys.stderr, flush=True)
    server.serve_forever()
