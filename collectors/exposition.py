"""Scrape a Prometheus ``/metrics`` endpoint over HTTP, in the format it answers with.

``parse_exposition`` is pure (bytes in, samples out) so tests and fuzzers call it
directly; ``ExpositionCollector`` adds the negotiated, bounded HTTP fetch around it,
the scrape limits and the stale markers.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from io import StringIO

import requests
from prometheus_client.metrics_core import Metric
from urllib3.exceptions import ReadTimeoutError

from collectors.base import Sample, ScrapeResult
from collectors.families import families_to_samples
from collectors.limits import ScrapeLimits
from collectors.negotiate import ACCEPT, TEXT, ExpositionFormat, format_for
from collectors.redact import redact
from collectors.scrape import Clock, finish
from collectors.staleness import SeriesTracker
from collectors.validate import METRIC_NAME, check_family, type_suffixes

_CHUNK = 64 * 1024
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_EOF = "# EOF"


class ExpositionError(ValueError):
    """The payload as a whole could not be parsed."""

    def __init__(self, message: str, line_no: int | None = None) -> None:
        super().__init__(message)
        self.line_no = line_no


class ScrapeDeadline(Exception):
    """Parsing ran past the scrape's deadline: the scrape fails whole."""


_DEADLINE_EVERY = 1024  # lines between two looks at the clock


class _CountingLines:
    """Feeds the parser line by line, remembering where it is for error messages, and
    stops it once the scrape's deadline (a ``time.perf_counter()`` reading) passes."""

    def __init__(self, text: str, deadline: float | None = None) -> None:
        self._lines = StringIO(text)
        self.line_no = 0
        self._deadline = deadline

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.line_no += 1
        if self._deadline is not None and self.line_no % _DEADLINE_EVERY == 0:
            _check(self._deadline)
        return line


def _check(deadline: float | None) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise ScrapeDeadline("parsing did not finish within the scrape timeout")


# A payload with more broken families than this is rejected whole: it is not an
# exposition with a few bad lines but something else answering on /metrics.
MAX_BROKEN_FAMILIES = 20


@dataclass
class _Block:
    """The lines of one metric family, as the parser will group them."""

    name: str | None
    lines: list[int] = field(default_factory=list)  # 0-based line indices
    claims: set[str] = field(default_factory=set)  # sample names the family owns
    metadata: set[str] = field(default_factory=set)  # HELP, TYPE, UNIT seen
    problem: tuple[int, str] | None = None  # (line index, why) found before parsing

    def refuse(self, index: int, why: str) -> None:
        if self.problem is None:
            self.problem = (index, why)


def _split_lines(body: bytes | str) -> tuple[list[str], dict[int, str]]:
    """Lines with their newline, and the lines that are not UTF-8 (index -> why).

    A newline byte never occurs inside a UTF-8 sequence, so a line that is not UTF-8
    cannot spoil its neighbours: it costs its own family, not the scrape.
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    parts = raw.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    lines: list[str] = []
    bad: dict[int, str] = {}
    for i, part in enumerate(parts):
        newline = "\n" if i < len(parts) - 1 or raw.endswith(b"\n") else ""
        try:
            lines.append(part.decode("utf-8") + newline)
        except UnicodeDecodeError as exc:
            bad[i] = f"not UTF-8 at byte {exc.start} of the line"
            lines.append(part.decode("utf-8", "replace") + newline)
    return lines, bad


def _blocks(lines: list[str], bad: Mapping[int, str], fmt: ExpositionFormat,
            deadline: float | None = None) -> list[_Block]:
    """Group lines by the family they belong to (metadata, then its samples)."""
    blocks: list[_Block] = []
    current: _Block | None = None
    for i, line in enumerate(lines):
        if i % _DEADLINE_EVERY == 0:
            _check(deadline)
        text = line.rstrip("\n")
        parts = text.split(None, 3)
        if text.startswith("#") and len(parts) >= 3 and parts[1] in ("HELP", "TYPE", "UNIT"):
            name = parts[2]
            if current is None or current.name != name:
                current = _Block(name, claims={name})
                blocks.append(current)
            if parts[1] in current.metadata:
                current.refuse(i, f"second {parts[1]} line for {name}")
            current.metadata.add(parts[1])
            if parts[1] == "TYPE" and len(parts) == 4:
                current.claims = {name + suffix for suffix in type_suffixes(parts[3].strip())
                                  if not (fmt.created_family and suffix == "_created")}
        elif text.startswith("#") or not text.strip():
            # A comment or blank line stands alone (OpenMetrics refuses both): it
            # costs itself only, and the family around it goes on after it.
            alone = _Block(None, [i])
            if i in bad:
                alone.refuse(i, bad[i])
            blocks.append(alone)
            continue
        else:
            match = METRIC_NAME.match(text.lstrip())
            name = match.group(0) if match else None
            if current is None or name is None or name not in current.claims:
                current = _Block(name, claims={name} if name else set())
                blocks.append(current)
        current.lines.append(i)
        if i in bad:
            current.refuse(i, bad[i])
    owner: dict[str, int] = {}
    for block in blocks:
        clash = sorted(n for n in block.claims if n in owner)
        if clash:
            block.refuse(block.lines[0], f"{clash[0]} clashes with the family at line "
                                         f"{owner[clash[0]] + 1}")
        for n in block.claims:
            owner.setdefault(n, block.lines[0])
    return blocks


def _parse_block(block: _Block, lines: list[str], fmt: ExpositionFormat,
                 deadline: float | None = None
                 ) -> tuple[list[Metric], tuple[int, str] | None]:
    """The families of one block, or the line index where it broke and why."""
    if block.problem is not None:
        return [], block.problem
    text = "".join(lines[i] for i in block.lines)
    if fmt.needs_eof:
        text += ("" if text.endswith("\n") else "\n") + _EOF + "\n"
    counting = _CountingLines(text, deadline)
    try:
        families = list(fmt.parse(counting))
    except ScrapeDeadline:
        raise
    except Exception as exc:  # the parsers raise more than ValueError on odd input
        at = counting.line_no - 1
        index = block.lines[at] if 0 <= at < len(block.lines) else block.lines[0]
        return [], (index, str(exc) or f"{type(exc).__name__} from the parser")
    sample_lines = [i for i in block.lines
                    if lines[i].strip() and not lines[i].startswith("#")]
    for family in families:
        problem = check_family(family)
        if problem is None:
            continue
        index = block.lines[0]
        if problem.sample is not None and len(families) == 1 \
                and len(sample_lines) == len(family.samples):
            index = sample_lines[problem.sample]
        return [], (index, problem.reason)
    return families, None


def parse_exposition(
    body: bytes | str,
    ts: float,
    extra_labels: Mapping[str, str] | None = None,
    fmt: ExpositionFormat = TEXT,
    honor_labels: bool = False,
    deadline: float | None = None,
) -> tuple[list[Sample], list[str]]:
    """Parse an exposition in ``fmt`` with prometheus-client's parser for it.

    Returns (samples, rejected). A family the parser refuses, or that fails the checks
    Prometheus applies (``collectors.validate``), is dropped whole (half a histogram is
    worse than none) and recorded in ``rejected`` with its line number and why; the
    other families are kept. An OpenMetrics body without ``# EOF`` fails whole (it may
    be cut short anywhere), as does a payload with no good family left, or more than
    MAX_BROKEN_FAMILIES broken ones (``ExpositionError``). Past ``deadline`` (a
    ``time.perf_counter()`` reading) it stops with ``ScrapeDeadline``.
    """
    lines, bad = _split_lines(body)
    rejected: list[str] = []
    if fmt.needs_eof:
        ends = [i for i, line in enumerate(lines) if line.rstrip("\n") == _EOF]
        if not ends:
            last = max(len(lines), 1)
            raise ExpositionError(f"line {last}: no '# EOF' at the end ({fmt.name} ends "
                                  f"with it), so the body may be cut short", last)
        rejected += [f"line {i + 1}: text after # EOF in {_snippet(lines, i)}: line dropped"
                     for i in range(ends[0] + 1, len(lines))]
        lines = lines[: ends[0]]
    families: list[Metric] = []
    broken: list[tuple[int, str]] = []
    _check(deadline)
    for block in _blocks(lines, bad, fmt, deadline):
        good, problem = _parse_block(block, lines, fmt, deadline)
        families += good
        if problem is None:
            continue
        index, why = problem
        what = f"family {block.name} dropped" if block.name else "line dropped"
        broken.append((index + 1, f"line {index + 1}: {why} in {_snippet(lines, index)}: "
                                  f"{what}"))
        if len(broken) > MAX_BROKEN_FAMILIES:
            raise ExpositionError(f"{broken[0][1]} (and {len(broken) - 1} more broken "
                                  f"families)", broken[0][0])
    _check(deadline)
    samples, dropped = families_to_samples(families, ts, extra_labels, honor_labels)
    _check(deadline)
    if broken and not samples:
        raise ExpositionError(broken[0][1], broken[0][0])
    return samples, rejected + [message for _, message in broken] + dropped


def _snippet(lines: list[str], index: int) -> str:
    return repr(lines[index].rstrip("\n")[:200]) if 0 <= index < len(lines) else "''"


class _FetchError(Exception):
    pass


class ExpositionCollector:
    """GET ``url``, negotiate the format and parse it; failures become ``up`` 0 with a reason.

    Samples keep the timestamp the payload gives them (Prometheus's
    ``honor_timestamps: true``); the others get the scrape time from ``clock``.
    ``extra_labels`` (the target's ``job`` and ``target``) are attached to every sample
    with Prometheus's ``honor_labels`` semantics. ``timeout_s`` bounds the whole
    scrape, fetch and parse: one that runs past it fails whole with the reason.
    """

    def __init__(
        self,
        target: str,
        url: str,
        clock: Clock,
        timeout_s: float = 5.0,
        limits: ScrapeLimits | None = None,
        extra_labels: Mapping[str, str] | None = None,
        honor_labels: bool = False,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.target = target
        self.url = url
        self.clock = clock
        self.timeout_s = timeout_s
        self.limits = limits or ScrapeLimits()
        self.extra_labels = dict(extra_labels or {})
        self.honor_labels = honor_labels
        self._session = requests.Session()  # keep-alive across scrapes
        self._series = SeriesTracker()

    def collect(self) -> ScrapeResult:
        ts = self.clock.now()
        started = time.perf_counter()
        where = f"{self.target} ({redact(self.url)})"
        try:
            body, content_type = self._fetch(started)
        except _FetchError as exc:
            return self._failed(ts, started, f"{where}: {exc}")
        fmt, how = format_for(content_type)
        deadline = started + self.timeout_s
        try:
            samples, rejected = parse_exposition(body, ts, self.extra_labels, fmt,
                                                 self.honor_labels, deadline)
            over = self.limits.check(samples)
            _check(deadline)
        except ExpositionError as exc:
            return self._failed(ts, started, f"{where}: malformed exposition read as {how}, "
                                             f"{exc}")
        except ScrapeDeadline:
            return self._failed(ts, started, f"{where}: timeout after {self.timeout_s:g}s "
                                             f"(parsing {len(body)} bytes read as {how})")
        if over is not None:
            return self._failed(ts, started, f"{where}: {over}")
        stale = self._series.update(samples, ts)
        return finish(self.target, ts, started, samples, rejected=rejected,
                      note=f"read as {how}", stale=stale)

    def _failed(self, ts: float, started: float, reason: str) -> ScrapeResult:
        # As in Prometheus, a failed scrape marks every series of the last one stale.
        return finish(self.target, ts, started, reason=reason,
                      stale=self._series.update((), ts))

    def _fetch(self, started: float) -> tuple[bytes, str | None]:
        deadline = started + self.timeout_s
        try:
            with self._session.get(
                self.url,
                timeout=(self.timeout_s, self.timeout_s),
                stream=True,
                headers={"Accept": ACCEPT, "Accept-Encoding": "gzip"},
            ) as resp:
                if resp.status_code != 200:
                    raise _FetchError(f"HTTP {resp.status_code} {resp.reason}")
                return self._read_capped(resp, deadline), resp.headers.get("Content-Type")
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
        # enforce the whole-scrape deadline. The body limit holds for the body once
        # decompressed, and decompression stops as soon as it is passed.
        limit = self.limits.body_size_limit
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "deflate"):
            raise _FetchError(f"unsupported Content-Encoding {encoding!r}")
        inflate = None if encoding == "identity" else \
            zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
        buf = bytearray()
        while True:
            chunk = resp.raw.read(_CHUNK, decode_content=False)
            if not chunk:
                break
            try:
                while chunk:
                    room = limit + 1 - len(buf) if limit else 0
                    if inflate is None:
                        buf += chunk[:room] if limit else chunk
                        chunk = b""
                    else:
                        buf += inflate.decompress(chunk, room)
                        chunk = inflate.unconsumed_tail
                    if limit and len(buf) > limit:
                        raise _FetchError(self._too_big())
            except zlib.error as exc:
                raise _FetchError(f"body is not valid {encoding}: {exc}") from None
            if time.perf_counter() > deadline:
                raise _FetchError(f"timeout after {self.timeout_s:g}s (body still arriving)")
        if inflate is not None:
            buf += inflate.flush()
            if limit and len(buf) > limit:
                raise _FetchError(self._too_big())
        return bytes(buf)

    def _too_big(self) -> str:
        unit = "" if self.limits.body_size_limit == 1 else "s"
        return (f"body_size_limit exceeded: body over {self.limits.body_size_limit} "
                f"byte{unit}; cut off and rejected")


def _short(exc: Exception) -> str:
    match = _ERRNO.search(str(exc))
    return match.group(0).strip() if match else type(exc).__name__
