"""A real HTTP server (ThreadingHTTPServer in a thread) in front of a dispatcher."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from engine.api.response import Response, error_response

Dispatch = Callable[[str, str, dict[str, str], bytes], Response]


def _handler_class(dispatch: Dispatch, registry: CollectorRegistry | None,
                   max_body: int, is_open: Callable[[], bool] = lambda: True
                   ) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, resp: Response) -> None:
            self.send_response(resp.status)
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            self.wfile.write(resp.body)

        def _serve(self) -> None:
            if not is_open():
                # A stopped server must not go on answering on kept-alive connections:
                # down means down, for clients that connected before too.
                self.close_connection = True
                return
            if self.command == "GET" and self.path == "/metrics" and registry is not None:
                self._send(Response(200, {"Content-Type": CONTENT_TYPE_LATEST},
                                    generate_latest(registry)))
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.close_connection = True
                self._send(error_response(400, "invalid Content-Length"))
                return
            if length > max_body:
                # Refuse before reading; the unread body makes the connection unusable.
                self.close_connection = True
                self._send(error_response(413, f"body of {length} bytes exceeds {max_body}"))
                return
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(dispatch(self.command, self.path, headers, body))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # requests are counted in metrics, not logged line by line

    return Handler


class HttpServer:
    def __init__(self, host: str, dispatch: Dispatch, registry: CollectorRegistry | None,
                 max_body: int) -> None:
        self._host = host
        self._handler = _handler_class(dispatch, registry, max_body,
                                       lambda: self._server is not None)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0  # 0: a random free port on first start, then kept

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        if self._server is None:
            server = ThreadingHTTPServer((self._host, self.port), self._handler)
            server.daemon_threads = True
            self.port = int(server.server_address[1])
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name=f"ion-http-{self.port}", daemon=True)
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None
