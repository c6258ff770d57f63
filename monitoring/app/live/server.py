"""The dashboard HTTP server: routes in, pages out; a token, body limits, 4xx with a reason."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    status: int
    content_type: str
    body: bytes


MAX_REQUEST_BODY = 64 * 1024  # the dashboards take no uploads: anything bigger is refused
FORM_TYPE = "application/x-www-form-urlencoded"


def text_page(status: int, reason: str) -> Page:
    return Page(status, "text/plain; charset=utf-8", f"{reason}\n".encode())


def serve_http(route: Callable[[str], Page], port: int, host: str = "127.0.0.1",
               token: str | None = None, max_body: int = MAX_REQUEST_BODY,
               post: Callable[[str, dict[str, list[str]]], Page] | None = None
               ) -> ThreadingHTTPServer:
    """Serve ``route`` on ``host`` (loopback unless told otherwise); with ``token``, every
    request must carry it. Bad requests get a 4xx and a one-line reason, never a traceback.
    ``post`` answers form posts; they always need the token (none set: refused)."""
    expected = f"Bearer {token}".encode() if token else None

    class Handler(BaseHTTPRequestHandler):
        def _authorized(self) -> bool:
            if expected is None:
                return True
            given = self.headers.get("Authorization", "").encode()
            query = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
            return (hmac.compare_digest(given, expected)
                    or hmac.compare_digest(f"Bearer {query}".encode(), expected))

        def _body_ok(self) -> Page | None:
            length = self.headers.get("Content-Length")
            if length is None:
                return None
            if not length.isdigit():
                return text_page(400, "bad request: invalid Content-Length")
            if int(length) > max_body:
                return text_page(413, f"request body of {length} bytes exceeds {max_body}")
            self.rfile.read(int(length))  # drained, so the connection stays in sync
            return None

        def do_GET(self) -> None:
            refused = self._body_ok()
            if refused is not None:
                self.close_connection = True
                self._send(refused)
            elif not self._authorized():
                self._send(text_page(401, "unauthorized: send the dashboard token as "
                                      "'Authorization: Bearer <token>' or ?token=<token>"))
            else:
                try:
                    page = route(self.path)
                except Exception:  # one bad page must not stop the server
                    log.exception("rendering %s failed", self.path)
                    page = text_page(500, "internal error: see the server log")
                self._send(page)

        def _refuse(self) -> None:
            self.close_connection = True
            self._send(text_page(405, f"method {self.command} not allowed: the dashboards are "
                                  "read-only (GET)"))

        def do_POST(self) -> None:
            if post is None:
                return self._refuse()
            self.close_connection = True
            page = self._form_post()
            self._send(page)

        def _form_post(self) -> Page:
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                return text_page(411, "length required: send the form with a Content-Length")
            if int(length) > max_body:
                return text_page(413, f"request body of {length} bytes exceeds {max_body}")
            body = self.rfile.read(int(length))
            if expected is None:
                return text_page(403, "forbidden: changes need a token; set serve.token in "
                                  "config.yaml")
            if self.headers.get("Content-Type", "").split(";")[0].strip() != FORM_TYPE:
                return text_page(415, f"unsupported media type: send {FORM_TYPE}")
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                max_num_fields=20)
            except (UnicodeDecodeError, ValueError) as exc:
                return text_page(400, f"bad request: not a URL-encoded UTF-8 form ({exc})")
            given = f"Bearer {(form.pop('token', None) or [''])[0]}".encode()
            if not (self._authorized() or hmac.compare_digest(given, expected)):
                return text_page(401, "unauthorized: send the token in the form's token field "
                                  "or as 'Authorization: Bearer <token>'")
            try:
                return post(urlsplit(self.path).path, form)
            except Exception:  # one bad request must not stop the server
                log.exception("handling POST %s failed", self.path)
                return text_page(500, "internal error: see the server log")

        do_PUT = do_DELETE = do_PATCH = _refuse

        def _send(self, page: Page) -> None:
            self.send_response(page.status)
            if page.status == 302:
                self.send_header("Location", page.content_type)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if page.status == 405:
                self.send_header("Allow", "GET")
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("http: " + fmt, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="dashboards", daemon=True).start()
    return server
