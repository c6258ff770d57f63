"""Real servers for tests: Redis, PostgreSQL, Prometheus, Alertmanager, VictoriaMetrics.

Each server runs from the distribution's binary on a free loopback port in its own
temp dir. ``stop()`` is a real SIGKILL of the whole process tree, so a test can
simulate a crash and ``start()`` again on the same port and data dir.

No orphans: every running server is killed at interpreter exit, and each child gets
PR_SET_PDEATHSIG so it dies with the test process even if that is SIGKILLed.
(The signal follows the *thread* that started the server: start servers from the
main thread, as pytest fixtures do.)
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest

REDIS_SERVER = "/usr/bin/redis-server"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
VICTORIA_METRICS = "/usr/bin/victoria-metrics"

PG_USER = "ion"
PG_PASSWORD = "ion"
PG_DATABASE = "ion"

READY_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 40

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def skip_or_fail(reason: str) -> None:
    """Skip the test locally, fail it under CI=true: CI has everything installed."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require_binary(path_or_name: str) -> str:
    """Return the binary's path; skip the test locally, fail it in CI, when missing."""
    found = shutil.which(path_or_name)
    if found:
        return found
    skip_or_fail(f"required binary not found: {path_or_name}")
    raise AssertionError("unreachable")


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One request to a loopback server: (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (callers retry on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    # Runs in the child between fork and exec (after any uid switch, so it sticks).
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ServerStartError(RuntimeError):
    def __init__(self, message: str, exited: bool = False) -> None:
        super().__init__(message)
        self.exited = exited  # died at once (e.g. port lost to a race): worth a retry


class _Server:
    """Process lifecycle shared by all servers: spawn, wait ready, kill, clean up."""

    name = "server"
    host = "127.0.0.1"
    run_as: str | None = None  # system user to run as (PostgreSQL refuses root)

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"ion-{self.name}-"))
        self.port = free_port()
        self.log_path = self.dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_once = False

    # -- to implement -------------------------------------------------------------
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        return port_open(self.host, self.port)

    def _prepare(self) -> None:
        """Called once before the first start (write config, init data dir)."""

    # -- lifecycle ----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        if not self._started_once:
            self._prepare()
        # A fresh port may be taken between free_port() and bind: retry with another
        # one, but only before the first success (restarts must keep their port).
        attempts = 1 if self._started_once else 3
        for attempt in range(attempts):
            try:
                self._spawn_and_wait()
                break
            except ServerStartError as e:
                if attempt == attempts - 1 or not e.exited:
                    raise
                self.port = free_port()
        self._started_once = True
        _LIVE.add(self)

    def stop(self) -> None:
        """SIGKILL the server and all its children (a crash, not a clean shutdown)."""
        _LIVE.discard(self)
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _kill_tree(proc.pid)
        proc.wait(timeout=10)
        self._log_file_close()
        deadline = time.monotonic() + 10
        while port_open(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        """Stop and remove the temp dir."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------
    def _spawn_and_wait(self) -> None:
        kwargs: dict = {}
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
            kwargs["env"] = {**os.environ, "HOME": str(self.dir), "USER": self.run_as}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the server
        self._proc = subprocess.Popen(
            self._command(),
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # keep terminal signals (Ctrl-C) to the test runner
            preexec_fn=_die_with_parent,
            **kwargs,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                self._log_file_close()
                raise ServerStartError(self._failure(f"exited with code {code}"), exited=True)
            if self._is_ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(self._failure(f"not ready after {READY_TIMEOUT_S:.0f}s"))

    def _log_file_close(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()
            self._log = None

    def _failure(self, what: str) -> str:
        return f"{self.name} on {self.host}:{self.port} {what}; log tail:\n{self.log_tail()}"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    # Orphaned children are reaped by init whenever it gets to it; a zombie has
    # already released its ports and shared memory, which is all a restart needs.
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.01)


def _alive(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class _LiveServers:
    """Servers still running; killed at exit so a failing test leaves no orphans."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: list[_Server] = []

    def add(self, s: _Server) -> None:
        with self._lock:
            if s not in self._servers:
                self._servers.append(s)

    def discard(self, s: _Server) -> None:
        with self._lock:
            if s in self._servers:
                self._servers.remove(s)

    def kill_all(self) -> None:
        with self._lock:
            servers = list(self._servers)
        for s in servers:
            s.close()


_LIVE = _LiveServers()
atexit.register(_LIVE.kill_all)


# -- Redis ----------------------------------------------------------------------------


class RedisServer(_Server):
    name = "redis"

    def __init__(self, binary: str = REDIS_SERVER) -> None:
        super().__init__()
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def _command(self) -> list[str]:
        exe = require_binary(self.binary)
        return [
            exe, "--port", str(self.port), "--bind", self.host,
            "--dir", str(self.dir), "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--protected-mode", "no",
        ]  # fmt: skip

    def _is_ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


# -- PostgreSQL -----------------------------------------------------------------------

_pg_template_lock = threading.Lock()
_pg_template: Path | None = None


def _pg_template_cluster() -> Path:
    """initdb once per test run (slow part), then copy the cluster per server (fast)."""
    global _pg_template
    with _pg_template_lock:
        if _pg_template is not None:
            return _pg_template
        initdb = require_binary(str(PG_BIN / "initdb"))
        postgres = require_binary(str(PG_BIN / "postgres"))
        root = Path(tempfile.mkdtemp(prefix="ion-pg-template-"))
        shutil.chown(root, "postgres", "postgres")
        data = root / "data"
        as_pg = _as_user("postgres")
        _run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--locale=C", "--no-sync"], **as_pg)  # fmt: skip
        # Single-user mode creates the role and database without a running server.
        sql = (
            f"CREATE ROLE {PG_USER} LOGIN SUPERUSER PASSWORD '{PG_PASSWORD}';\n"
            f"CREATE DATABASE {PG_DATABASE} OWNER {PG_USER};\n"
        )
        _run([postgres, "--single", "-D", str(data), "-c", "fsync=off", "postgres"],
             input=sql.encode(), **as_pg)  # fmt: skip
        atexit.register(shutil.rmtree, root, True)
        _pg_template = data
        return data


def _as_user(name: str) -> dict:
    pw = pwd.getpwnam(name)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _run(cmd: list[str], **kwargs) -> None:
    res = subprocess.run(cmd, capture_output=True, timeout=120, check=False, **kwargs)
    if res.returncode != 0:
        out = (res.stdout + res.stderr).decode(errors="replace")[-4000:]
        raise ServerStartError(f"{cmd[0]} failed with code {res.returncode}:\n{out}")


class PostgresServer(_Server):
    """PostgreSQL 15 as the ``postgres`` user; database ``ion``, user ``ion``/``ion``."""

    name = "postgres"
    run_as = "postgres"

    def __init__(self) -> None:
        super().__init__()
        shutil.chown(self.dir, "postgres", "postgres")
        self.data_dir = self.dir / "data"

    @property
    def dsn(self) -> str:
        return (
            f"postgresql://{PG_USER}:{PG_PASSWORD}@{self.host}:{self.port}/{PG_DATABASE}"
            "?connect_timeout=5"
        )

    def _prepare(self) -> None:
        template = _pg_template_cluster()
        _run(["cp", "-a", str(template), str(self.data_dir)])  # keeps owner and 0700

    def _command(self) -> list[str]:
        postgres = require_binary(str(PG_BIN / "postgres"))
        return [
            postgres, "-D", str(self.data_dir), "-p", str(self.port),
            "-c", f"listen_addresses={self.host}",
            "-c", f"unix_socket_directories={self.dir}",
            "-c", "fsync=off",  # a killed process keeps its page cache: still crash-safe
            "-c", "full_page_writes=off", "-c", "max_connections=50",
        ]  # fmt: skip

    def _is_ready(self) -> bool:
        # The port opens before recovery ends; only a real login proves readiness.
        if not port_open(self.host, self.port):
            return False
        try:
            with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False


# -- Prometheus and Alertmanager ------------------------------------------------------


def _http_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


class _ConfiguredHttpServer(_Server):
    """A server started from one YAML config file, ready when /-/ready answers 200."""

    config_name = "config.yml"

    def __init__(self, config_text: str, binary: str) -> None:
        super().__init__()
        self.config_text = config_text
        self.binary = binary
        self.config_path = self.dir / self.config_name

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _prepare(self) -> None:
        self.config_path.write_text(self.config_text)

    def _flags(self) -> list[str]:
        raise NotImplementedError

    def _command(self) -> list[str]:
        return [require_binary(self.binary), f"--config.file={self.config_path}",
                f"--web.listen-address={self.host}:{self.port}", *self._flags()]

    def _is_ready(self) -> bool:
        return _http_ready(f"{self.url}/-/ready")


class PrometheusServer(_ConfiguredHttpServer):
    name = "prometheus"
    config_name = "prometheus.yml"

    def __init__(self, config_text: str, binary: str = PROMETHEUS) -> None:
        super().__init__(config_text, binary)

    def _flags(self) -> list[str]:
        return [f"--storage.tsdb.path={self.dir / 'tsdb'}", "--web.enable-lifecycle"]


class AlertmanagerServer(_ConfiguredHttpServer):
    name = "alertmanager"
    config_name = "alertmanager.yml"

    def __init__(self, config_text: str, binary: str = ALERTMANAGER) -> None:
        super().__init__(config_text, binary)

    def _flags(self) -> list[str]:
        return [
            f"--storage.path={self.dir / 'data'}",
            "--cluster.listen-address=",  # no gossip: a single, isolated instance
        ]


class VictoriaMetricsServer(_Server):
    """Single-node VictoriaMetrics: Prometheus's query API, and an import endpoint."""

    name = "victoria-metrics"

    def __init__(self, binary: str = VICTORIA_METRICS) -> None:
        super().__init__()
        self.binary = binary

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _command(self) -> list[str]:
        return [require_binary(self.binary), f"-storageDataPath={self.dir / 'data'}",
                f"-httpListenAddr={self.host}:{self.port}", "-retentionPeriod=100y",
                # Answer with what was just imported: no 30 s hold-back, no result cache.
                "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"]

    def _is_ready(self) -> bool:
        return _http_ready(f"{self.url}/health")
