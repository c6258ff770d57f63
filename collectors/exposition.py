"""Scrape a Prometheus text exposition over HTTP.

``parse_exposition`` is pure (text in, samples out) so tests and fuzzers call it
directly; ``ExpositionCollector`` only adds the bounded HTTP fetch around it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from io import StringIO

import requests
from prometheus_client.parser import text_fd_to_metric_families
from urllib3.exceptions import ReadTimeoutError

from collectors.base import Sample, ScrapeResult
from collectors.families import families_to_samples
from collectors.redact import redact
from collectors.scrape import Clock, finish

MAX_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024
_ACCEPT = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1"
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


class ExpositionError(ValueError):
    """The payload as a whole could not be parsed."""

    def __init__(self, message: str, line_no: int | None = None) -> None:
        super().__init__(message)
        self.line_no = line_no


class _CountingLines:
    """Feeds the parser line by line, remembering where it is for error messages."""

    def __init__(self, text: str) -> None:
        self._lines = StringIO(text)
        self.line_no = 0
        self.line = ""

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.line_no += 1
        self.line = line
        return line


# A payload with more broken families than this is rejected whole: it is not an
# exposition with a few bad lines but something else answering on /metrics.
MAX_BROKEN_FAMILIES = 20
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum", "_info")


def _family_of(line: str) -> str | None:
    """The metric family a line belongs to, or None when it names none (garbage)."""
    text = line.strip()
    if text.startswith("#"):
        parts = text.split(None, 3)
        return parts[2] if len(parts) >= 3 and parts[1] in ("HELP", "TYPE") else None
    match = _NAME.match(text)
    if match is None:
        return None
    name = match.group(0)
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _parse(lines: list[str]) -> tuple[list, int | None, str]:
    """Families of ``lines``, or the 1-based index of the line that broke and why."""
    counting = _CountingLines("".join(lines))
    try:
        return list(text_fd_to_metric_families(counting)), None, ""  # type: ignore[arg-type]
    except Exception as exc:  # the parser raises more than ValueError on odd input
        return [], counting.line_no, str(exc) or type(exc).__name__


def parse_exposition(
    text: str,
    ts: float,
    extra_labels: Mapping[str, str] | None = None,
) -> tuple[list[Sample], list[str]]:
    """Parse text exposition format 0.0.4 with prometheus-client's parser.

    Returns (samples, rejected). A line the parser refuses costs its whole metric
    family (half a histogram is worse than none), recorded in ``rejected`` with the
    line number; the other families are kept. A payload with no good family left, or
    more than MAX_BROKEN_FAMILIES broken ones, fails whole with ``ExpositionError``.
    NaN and ±Inf are kept as parsed; duplicate series are rejected.
    """
    original = text.splitlines(keepends=True)
    kept = list(range(len(original)))  # indices of the lines still fed to the parser
    broken: list[tuple[int, str]] = []  # (line number, why)
    broken_families: list[str | None] = []
    while True:
        families, bad, detail = _parse([original[i] for i in kept])
        if bad is None:
            break
        line_no = kept[bad - 1] + 1 if 0 < bad <= len(kept) else bad
        snippet = original[line_no - 1].rstrip("\n")[:200] if 0 < line_no <= len(original) \
            else ""
        message = f"line {line_no}: {detail} in {snippet!r}"
        family = _family_of(snippet)
        if len(broken) >= MAX_BROKEN_FAMILIES:
            raise ExpositionError(f"{message} (and {len(broken)} more broken families)",
                                  line_no)
        if family is None:
            drop = {line_no - 1}
        else:
            drop = {i for i in kept if _family_of(original[i]) == family}
        if not drop & set(kept):
            raise ExpositionError(message, line_no)
        kept = [i for i in kept if i not in drop]
        broken.append((line_no, message))
        broken_families.append(family)
    samples, rejected = families_to_samples(families, ts, extra_labels)
    if broken and not samples:
        line_no, message = broken[0]
        raise ExpositionError(message, line_no)
    dropped = [f"{message}: family {family} dropped" if family else f"{message}: line dropped"
               for (_, message), family in zip(broken, broken_families, strict=True)]
    return samples, dropped + rejected


class _FetchError(Exception):
    pass


class ExpositionCollector:
    """GET ``url`` and parse it; failures become ``up`` 0 with a reason."""

    def __init__(
        self,
        target: str,
        url: str,
        clock: Clock,
        timeout_s: float = 5.0,
        max_bytes: int = MAX_BYTES,
        extra_labels: Mapping[str, str] | None = None,
    ) -> None:
        if timeout_s <= 0 or max_bytes <= 0:
            raise ValueError("timeout_s and max_bytes must be positive")
        self.target = target
        self.url = url
        self.clock = clock
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.extra_labels = dict(extra_labels or {})
        self._session = requests.Session()  # keep-alive across scrapes

    def collect(self) -> ScrapeResult:
        ts = self.clock.now()
        started = time.perf_counter()
        where = f"{self.target} ({redact(self.url)})"
        try:
            body = self._fetch(started)
            text = body.decode("utf-8")
        except _FetchError as exc:
            return finish(self.target, ts, started, reason=f"{where}: {exc}")
        except UnicodeDecodeError as exc:
            reason = f"{where}: body is not UTF-8 at byte {exc.start}"
            return finish(self.target, ts, started, reason=reason)
        try:
            samples, rejected = parse_exposition(text, ts, self.extra_labels)
        except ExpositionError as exc:
            reason = f"{where}: malformed exposition, {exc}"
            return finish(self.target, ts, started, reason=reason)
        return finish(self.target, ts, started, samples, rejected=rejected)

    def _fetch(self, started: float) -> bytes:
        deadline = started + self.timeout_s
        try:
            with self._session.get(
                self.url,
                timeout=(self.timeout_s, self.timeout_s),
                stream=True,
                headers={"Accept": _ACCEPT},
            ) as resp:
                if resp.status_code != 200:
                    raise _FetchError(f"HTTP {resp.status_code} {resp.reason}")
                declared = resp.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise _FetchError(self._too_big(f"Content-Length {declared}"))
                return self._read_capped(resp, deadline)
        except requests.Timeout:
            raise _FetchError(f"timeout after {self.timeout_s:g}s") from None
        except requests.ConnectionError as exc:
            # A read timeout while streaming surfaces as ConnectionError.
            if exc.args and isinstance(exc.args[0], ReadTimeoutError):
                raise _FetchError(f"timeout after {self.timeout_s:g}s") from None
            raise _FetchError(f"connection failed: {_short(exc)}") from None
        except requests.RequestException as exc:
            raise _FetchError(f"request failed: {_short(exc)}") from None

    def _read_capped(self, resp: requests.Response, deadline: float) -> bytes:
        # The per-read timeout alone lets a trickling server run forever: also
        # enforce the whole-scrape deadline, and stop reading past the byte cap.
        buf = bytearray()
        for chunk in resp.iter_content(_CHUNK):
            buf += chunk
            if len(buf) > self.max_bytes:
                raise _FetchError(self._too_big(f"more than {len(buf)} bytes read"))
            if time.perf_counter() > deadline:
                raise _FetchError(f"timeout after {self.timeout_s:g}s (body still arriving)")
        return bytes(buf)

    def _too_big(self, seen: str) -> str:
        return f"body exceeds {self.max_bytes} bytes ({seen}); cut off and rejected"


def _short(exc: Exception) -> str:
    match = _ERRNO.search(str(exc))
    return match.group(0).strip() if match else type(exc).__name__
