"""Dashboard server benchmark: waitress (WSGI, the one ``serve`` uses) against uvicorn with
a tiny ASGI app, and the standard library's ThreadingHTTPServer (the former server), all
serving one 50 KB page on loopback in the same run.

For each: threads and RSS added by 1,000 idle connections, then 50 keep-alive clients
× 20 requests (req/s, p50). Prints each figure and the ratios waitress/uvicorn
(req/s; target: at least 0.5) and stdlib/waitress (threads under idle; target: at least
100), with MET or NOT MET.

    python bench/bench_http_server.py
"""

from __future__ import annotations

import asyncio
import http.client
import resource
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitoring.app.live.server import Page, ServerLimits, serve_http

BODY = b"<!doctype html>" + b"x" * 50_000
IDLE = 1000
CLIENTS = 50
EACH = 20
REQ_RATIO_TARGET = 0.5
THREAD_RATIO_TARGET = 100.0


def _waitress() -> tuple[int, Callable[[], None]]:
    server = serve_http(lambda p: Page(200, "text/html", BODY), 0,
                        limits=ServerLimits(connection_limit=IDLE + 100))
    return server.server_port, lambda: (server.shutdown(), server.server_close())


def _uvicorn() -> tuple[int, Callable[[], None]]:
    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html"),
                                (b"content-length", str(len(BODY)).encode())]})
        await send({"type": "http.response.body", "body": BODY})

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           limit_concurrency=IDLE + 100, timeout_keep_alive=30,
                                           lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return port, stop


def _stdlib() -> tuple[int, Callable[[], None]]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_port, lambda: (server.shutdown(), server.server_close())


def _measure(name: str, start: Callable[[], tuple[int, Callable[[], None]]]) -> dict:
    proc = psutil.Process()
    port, stop = start()
    try:
        threads0, rss0 = proc.num_threads(), proc.memory_info().rss
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(IDLE)]
        for s in idle:  # a byte each, so a thread-per-connection server has read it
            s.sendall(b"G")
        time.sleep(1.5)
        threads, rss = proc.num_threads() - threads0, proc.memory_info().rss - rss0
        for s in idle:
            s.close()
        time.sleep(1.0)
        latencies: list[float] = []
        lock = threading.Lock()

        def client(_: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(EACH):
                t0 = time.perf_counter()
                conn.request("GET", "/d/overview")
                resp = conn.getresponse()
                resp.read()
                with lock:
                    latencies.append(time.perf_counter() - t0)
            conn.close()

        t0 = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))
        took = time.perf_counter() - t0
    finally:
        stop()
    out = {"threads": threads, "rss_mb": rss / 2**20, "rps": len(latencies) / took,
           "p50_ms": statistics.median(latencies) * 1000}
    print(f"{name:10s} {IDLE} idle: +{threads} threads, RSS +{out['rss_mb']:.1f} MB; "
          f"{CLIENTS} clients: {out['rps']:.0f} req/s, p50 {out['p50_ms']:.1f} ms")
    return out


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))
    w = _measure("waitress", _waitress)
    u = _measure("uvicorn", _uvicorn)
    s = _measure("stdlib", _stdlib)
    req_ratio = w["rps"] / u["rps"]
    thread_ratio = s["threads"] / max(w["threads"], 1)
    print(f"req/s waitress/uvicorn: {req_ratio:.2f} (target >= {REQ_RATIO_TARGET}) "
          f"{'MET' if req_ratio >= REQ_RATIO_TARGET else 'NOT MET'}")
    print(f"threads under {IDLE} idle stdlib/waitress: {thread_ratio:.0f} (target >= "
          f"{THREAD_RATIO_TARGET:g}) {'MET' if thread_ratio >= THREAD_RATIO_TARGET else 'NOT MET'}")


if __name__ == "__main__":
    main()
