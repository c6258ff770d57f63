"""A bad family costs itself only: mixed payloads of good families and invalid cases.

Good families are generated; bad ones are the invalid cases of the OpenMetrics suite
and of the text 0.0.4 cases (those that are one family). Every good family must come
through with exactly its samples, and every bad one must be named with its line.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.exposition import ExpositionError, parse_exposition
from collectors.negotiate import OPENMETRICS, TEXT
from tests.collectors.test_conformance import OM_CASES, TX_CASES

LINE = re.compile(r"^line (\d+): ")


def _bad_bodies(cases: list[tuple[str, bytes, bool]], eof: bool) -> list[bytes]:
    out = []
    for _, body, valid in cases:
        if valid:
            continue
        if eof:  # inside a payload: the case's own "# EOF" (if any) goes at the end
            lines = body.split(b"\n")
            if b"# EOF" not in lines:
                continue  # EOF cases are about the body's end, not one family
            body = b"\n".join(lines[: lines.index(b"# EOF")])
            body += b"\n" if body and not body.endswith(b"\n") else b""
        if body.strip() and _refused(body, eof):
            out.append(body)
    return out


def _refused(body: bytes, eof: bool) -> bool:
    """Whether the part is still invalid on its own (cut before "# EOF" it may not be)."""
    try:
        _, rejected = parse_exposition(body + (b"# EOF\n" if eof else b""), 0.0, None,
                                             OPENMETRICS if eof else TEXT)
    except ExpositionError:
        return True
    return bool(rejected)


OM_BAD = _bad_bodies(OM_CASES, eof=True)
TX_BAD = _bad_bodies(TX_CASES, eof=False)


def _good(i: int, kind: str, n: int) -> tuple[bytes, dict[tuple[str, str], float]]:
    name = f"good{i}"
    if kind == "gauge":
        rows = {(name, f'{{k="{j}"}}'): float(j) for j in range(n)}
        text = f"# TYPE {name} gauge\n" + "".join(f"{s}{lab} {v}\n" for (s, lab), v in
                                                 rows.items())
        return text.encode(), {(s, lab): v for (s, lab), v in rows.items()}
    # a histogram with n + 1 buckets
    rows = {(f"{name}_bucket", f'{{le="{j}.0"}}'): float(j) for j in range(n)}
    rows[(f"{name}_bucket", '{le="+Inf"}')] = float(n)
    rows[(f"{name}_count", "")] = float(n)
    rows[(f"{name}_sum", "")] = 1.5
    text = f"# TYPE {name} histogram\n" + "".join(f"{s}{lab} {v}\n" for (s, lab), v in
                                                 rows.items())
    return text.encode(), rows


def _key(name: str, labels: dict[str, str]) -> tuple[str, str]:
    return (name, "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
            if labels else "")


def _mixed(bad_pool: list[bytes]):
    good = st.tuples(st.sampled_from(["gauge", "histogram"]), st.integers(1, 4))
    part = st.one_of(good.map(lambda g: ("good", g)),
                     st.sampled_from(bad_pool).map(lambda b: ("bad", b)))
    return st.lists(part, min_size=2, max_size=8).filter(
        lambda ps: any(k == "good" for k, _ in ps) and any(k == "bad" for k, _ in ps))


def _check(parts, fmt) -> None:
    body = b""
    expected: dict[tuple[str, str], float] = {}
    bad_spans: list[range] = []
    for i, (kind, what) in enumerate(parts):
        start = body.count(b"\n") + 1
        if kind == "good":
            text, rows = _good(i, *what)
            expected.update(rows)
        else:
            text = what
            end = start + text.count(b"\n")
            if bad_spans and bad_spans[-1].stop == start:  # adjacent bad parts: one run
                start = bad_spans.pop().start
            bad_spans.append(range(start, end))
        body += text
    if fmt.needs_eof:
        body += b"# EOF\n"
    samples, rejected = parse_exposition(body, 0.0, None, fmt)
    got = {_key(s.name, dict(s.labels)): s.value for s in samples
           if s.name.startswith("good")}
    assert got == expected, (body, rejected)
    named = {int(m.group(1)) for r in rejected if (m := LINE.match(r))}
    assert len(named) == len(rejected), rejected  # every rejection names its line
    # Each run of bad parts is reported on one of its own lines (adjacent parts about
    # the same family name are one family), and no good line is ever named.
    for span in bad_spans:
        assert named & set(span), (body, span, rejected)
    assert all(any(n in span for span in bad_spans) for n in named), (body, rejected)


SETTINGS = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@SETTINGS
@given(_mixed(OM_BAD))
def test_openmetrics_bad_family_costs_itself_only(parts) -> None:
    _check(parts, OPENMETRICS)


@SETTINGS
@given(_mixed(TX_BAD))
def test_text_bad_family_costs_itself_only(parts) -> None:
    _check(parts, TEXT)


def test_the_pools_are_large() -> None:
    assert len(OM_BAD) >= 150 and len(TX_BAD) >= 15
