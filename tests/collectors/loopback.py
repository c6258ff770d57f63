"""A loopback HTTP server that answers with whatever body and headers a test sets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: PayloadServer = self.server  # type: ignore[assignment]
        server.requests.append(dict(self.headers))
        self.send_response(200)
        for name, value in server.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(server.body)))
        self.end_headers()
        self.wfile.write(server.body)

    def log_message(self, *args: object) -> None:
        pass


class PayloadServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.body = b""
        self.headers: dict[str, str] = {}
        self.requests: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/metrics"

    def serve(self, body: bytes, content_type: str | None, **headers: str) -> None:
        self.body = body
        self.headers = dict(headers)
        if content_type is not None:
            self.headers["Content-Type"] = content_type


@contextmanager
def payload_server() -> Iterator[PayloadServer]:
    server = PayloadServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
