"""The dashboard HTTP server: routes in, pages out, served by waitress.

waitress reads and writes every connection on one event loop and renders on a fixed
pool of threads, so idle or slow clients cost a socket, never a thread. Connections are
capped, idle ones closed, and a request whose headers are not in within the header
timeout is dropped. Pages a route marks cacheable are rendered once per cache period
however many clients ask. With a token, a request carries it in the ``Authorization``
header or in the session cookie the login form sets; a token in the URL (where logs and
browser history keep it) is refused. Bad requests get a 4xx and a one-line reason,
never a traceback; a client that goes away mid-answer is not an error.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from waitress import wasyncore
from waitress.server import create_server

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """A page as a route answers it. For a 302 or 303 ``content_type`` is the
    ``Location``. ``headers`` are sent as they are (``Set-Cookie``, ``Cache-Control``)."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = field(default=())


MAX_REQUEST_BODY = 64 * 1024  # the dashboards take no uploads: anything bigger is refused
FORM_TYPE = "application/x-www-form-urlencoded"
SESSION_COOKIE = "ionmon_session"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"

Route = Callable[[str], Page]
Post = Callable[[str, dict[str, list[str]]], Page]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class ServerLimits:
    """How much the server gives any one client, and the whole of them."""

    connection_limit: int = 256  # open connections; more wait in the listen backlog
    idle_timeout_s: int = 30  # a connection with no request in flight is closed after
    header_timeout_s: int = 10  # a request's headers must be in within this
    threads: int = 4  # pages rendered at once
    max_body: int = MAX_REQUEST_BODY

    def __post_init__(self) -> None:
        for name in ("connection_limit", "idle_timeout_s", "header_timeout_s", "threads",
                     "max_body"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def text_page(status: int, reason: str) -> Page:
    return Page(status, "text/plain; charset=utf-8", f"{reason}\n".encode())


def session_value(token: str) -> str:
    """What the session cookie holds: derived from the token, never the token itself."""
    return hmac.new(token.encode(), b"ionmon dashboard session", hashlib.sha256).hexdigest()


class PageCache:
    """Pages kept for ``ttl_s``; concurrent requests for a missing page wait for the one
    render in progress instead of starting their own."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.renders = 0
        self._pages: dict[str, tuple[float, Page]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, render: Callable[[], Page]) -> Page:
        hit = self._fresh(key)
        if hit is not None:
            return hit
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit
            page = render()
            self.renders += 1
            if page.status == 200:
                with self._guard:
                    self._drop_expired()
                    self._pages[key] = (self.clock() + self.ttl_s, page)
            return page

    def _fresh(self, key: str) -> Page | None:
        entry = self._pages.get(key)
        return entry[1] if entry is not None and entry[0] > self.clock() else None

    def _drop_expired(self) -> None:
        now = self.clock()
        for key in [k for k, (until, _) in self._pages.items() if until <= now]:
            del self._pages[key]
            self._locks.pop(key, None)


class DashboardApp:
    """The WSGI application: authorization, body limits, HEAD, the cache, the login."""

    def __init__(self, route: Route, token: str | None = None, post: Post | None = None,
                 max_body: int = MAX_REQUEST_BODY, cache: PageCache | None = None,
                 cacheable: Callable[[str], bool] = lambda path: False) -> None:
        self.route = route
        self.token = token
        self.post = post
        self.max_body = max_body
        self.cache = cache
        self.cacheable = cacheable
        self._bearer = f"Bearer {token}".encode() if token else None
        self._session = session_value(token).encode() if token else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        page = self._answer(environ, method)
        headers = [*page.headers]
        if page.status in (301, 302, 303, 307, 308):
            headers += [("Location", page.content_type), ("Content-Length", "0")]
            body = b""
        else:
            body = page.body
            headers += [("Content-Type", page.content_type),
                        ("Content-Length", str(len(body)))]
        if page.status == 405:
            headers.append(("Allow", "GET, HEAD, POST" if self.post else "GET, HEAD"))
        start_response(_status_line(page.status), headers)
        return [b""] if method == "HEAD" else [body]

    def _answer(self, environ: dict[str, Any], method: str) -> Page:
        path = quote(environ.get("PATH_INFO", "/") or "/", safe="/%:@!$&'()*+,;=-._~")
        query = environ.get("QUERY_STRING", "")
        full = f"{path}?{query}" if query else path
        body, refused = self._read_body(environ)
        if refused is not None:
            return refused
        if "token" in parse_qs(query):
            return text_page(400, "bad request: a token in the URL is refused (logs and "
                                  "browser history keep URLs); sign in at /login or send "
                                  "'Authorization: Bearer <token>'")
        if path == LOGIN_PATH and self.token is not None:
            return self._login(environ, method, body)
        if path == LOGOUT_PATH:
            return Page(303, "/login" if self.token else "/", b"",
                        ((("Set-Cookie", f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; "
                                         "SameSite=Strict"),)))
        if method in ("GET", "HEAD"):
            if not self._authorized(environ):
                return _unauthorized()
            return self._get(path, full)
        if method == "POST" and self.post is not None:
            return self._form_post(environ, path, body)
        what = "read-only (GET)" if self.post is None else "read with GET and changed " \
                                                           "with form POSTs"
        return text_page(405, f"method {method} not allowed: the dashboards are {what}")

    def _get(self, path: str, full: str) -> Page:
        def render() -> Page:
            try:
                return self.route(full)
            except Exception:  # one bad page must not stop the server
                log.exception("rendering %s failed", path)
                return text_page(500, "internal error: see the server log")

        if self.cache is not None and self.cacheable(path):
            return self.cache.get(full, render)
        return render()

    def _read_body(self, environ: dict[str, Any]) -> tuple[bytes, Page | None]:
        length = environ.get("CONTENT_LENGTH") or ""
        if not length:
            return b"", None
        if not length.isdigit():
            return b"", text_page(400, "bad request: invalid Content-Length")
        if int(length) > self.max_body:
            return b"", text_page(413, f"request body of {length} bytes exceeds "
                                       f"{self.max_body}")
        return environ["wsgi.input"].read(int(length)), None

    def _authorized(self, environ: dict[str, Any]) -> bool:
        if self._bearer is None or self._session is None:
            return True
        given = environ.get("HTTP_AUTHORIZATION", "").encode()
        return hmac.compare_digest(given, self._bearer) or \
            hmac.compare_digest(_cookie(environ).encode(), self._session)

    def _form(self, environ: dict[str, Any], body: bytes
              ) -> tuple[dict[str, list[str]], Page | None]:
        """The posted form, or why it is refused (not a form, from another site)."""
        if not self._same_origin(environ):
            return {}, text_page(403, "forbidden: the form was posted from another site")
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != FORM_TYPE:
            return {}, text_page(415, f"unsupported media type: send {FORM_TYPE}")
        try:
            return parse_qs(body.decode("utf-8"), keep_blank_values=True,
                            max_num_fields=20), None
        except (UnicodeDecodeError, ValueError) as exc:
            return {}, text_page(400, f"bad request: not a URL-encoded UTF-8 form ({exc})")

    def _same_origin(self, environ: dict[str, Any]) -> bool:
        """A browser names the page a form came from; another site's page is refused."""
        origin = environ.get("HTTP_ORIGIN")
        if origin is None or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == environ.get("HTTP_HOST", "")

    def _form_post(self, environ: dict[str, Any], path: str, body: bytes) -> Page:
        assert self.post is not None
        if not environ.get("CONTENT_LENGTH", "").isdigit():
            return text_page(411, "length required: send the form with a Content-Length")
        if self.token is None:
            return text_page(403, "forbidden: changes need a token; set serve.token in "
                                  "config.yaml")
        form, refused = self._form(environ, body)
        if refused is not None:
            return refused
        given = f"Bearer {(form.pop('token', None) or [''])[0]}".encode()
        if not (self._authorized(environ) or hmac.compare_digest(given, self._bearer or b"")):
            return text_page(401, "unauthorized: sign in at /login, or send the token in "
                                  "the form's token field or as 'Authorization: Bearer "
                                  "<token>'")
        try:
            return self.post(path, form)
        except Exception:  # one bad request must not stop the server
            log.exception("handling POST %s failed", path)
            return text_page(500, "internal error: see the server log")

    def _login(self, environ: dict[str, Any], method: str, body: bytes) -> Page:
        if method in ("GET", "HEAD"):
            return _login_page(200, "")
        if method != "POST":
            return text_page(405, f"method {method} not allowed on /login")
        form, refused = self._form(environ, body)
        if refused is not None:
            return refused
        given = f"Bearer {(form.get('token') or [''])[0]}".encode()
        if not hmac.compare_digest(given, self._bearer or b""):
            return _login_page(401, "That is not the dashboard token.")
        cookie = (f"{SESSION_COOKIE}={self._session.decode() if self._session else ''}; "
                  "Path=/; HttpOnly; SameSite=Strict")
        return Page(303, "/", b"", (("Set-Cookie", cookie),))


def _cookie(environ: dict[str, Any]) -> str:
    try:
        jar = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return ""
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else ""


def _unauthorized() -> Page:
    return text_page(401, "unauthorized: sign in at /login, or send the dashboard token as "
                          "'Authorization: Bearer <token>'")


def _login_page(status: int, notice: str) -> Page:
    page = ("<!doctype html><meta charset='utf-8'><title>ION Monitoring: sign in</title>"
            "<style>body{font:14px sans-serif;margin:24px}</style><h1>Sign in</h1>"
            + (f"<p class='error'>{html.escape(notice)}</p>" if notice else "")
            + "<form method='post' action='/login'><label>Dashboard token "
              "<input type='password' name='token' autocomplete='current-password' "
              "required></label> <button>Sign in</button></form>")
    return Page(status, "text/html; charset=utf-8", page.encode())


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class DashboardServer:
    """waitress on its own thread; ``shutdown()`` closes every connection and the pool."""

    def __init__(self, app: DashboardApp, host: str, port: int, limits: ServerLimits
                 ) -> None:
        self.app = app
        self.limits = limits
        self._server = create_server(
            app, host=host, port=port, threads=limits.threads,
            connection_limit=limits.connection_limit, channel_timeout=limits.idle_timeout_s,
            cleanup_interval=1, max_request_body_size=limits.max_body, asyncore_use_poll=True,
            ident="ionmon", expose_tracebacks=False, clear_untrusted_proxy_headers=True)
        self.server_address: tuple[str, int] = self._server.socket.getsockname()[:2]
        self.server_port = self.server_address[1]
        self._partial: dict[int, float] = {}
        maintenance = self._server.maintenance

        def sweep(now: float) -> None:  # waitress's idle sweep, plus the header timeout
            maintenance(now)
            self._drop_slow_headers(now)

        self._server.maintenance = sweep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dashboards", daemon=True)
        self._thread.start()

    def _drop_slow_headers(self, now: float) -> None:
        seen: dict[int, float] = {}
        for channel in list(self._server.active_channels.values()):
            request = channel.request
            if request is None or request.headers_finished:
                continue
            first = self._partial.get(id(request), now)
            seen[id(request)] = first
            if now - first >= self.limits.header_timeout_s:
                channel.will_close = True
        self._partial = seen

    def _loop(self) -> None:
        server = self._server
        while not self._stop.is_set():
            server.asyncore.loop(timeout=0.5, map=server._map, use_poll=True, count=1)

    def shutdown(self) -> None:
        self._stop.set()
        self._server.pull_trigger()
        self._thread.join(timeout=5)

    def server_close(self) -> None:
        self._server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(self._server._map)


def serve_http(route: Route, port: int, host: str = "127.0.0.1", token: str | None = None,
               max_body: int = MAX_REQUEST_BODY, post: Post | None = None,
               limits: ServerLimits | None = None, cache_s: float = 0.0,
               cacheable: Callable[[str], bool] = lambda path: False) -> DashboardServer:
    """Serve ``route`` on ``host`` (loopback unless told otherwise); with ``token``, every
    request must carry it. ``post`` answers form posts; they always need the token (none
    set: refused). Paths ``cacheable`` says yes to are rendered at most once per
    ``cache_s`` seconds."""
    limits = limits or ServerLimits(max_body=max_body)
    cache = PageCache(cache_s) if cache_s > 0 else None
    app = DashboardApp(route, token, post, limits.max_body, cache, cacheable)
    return DashboardServer(app, host, port, limits)
