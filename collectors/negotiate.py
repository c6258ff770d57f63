"""Content negotiation for a ``/metrics`` scrape, as Prometheus does it.

The request prefers OpenMetrics 1.0.0, then OpenMetrics 0.0.1, then the text format
0.0.4; the response's Content-Type picks the parser. A missing or unknown
Content-Type is read as text 0.0.4, as Prometheus does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_fd_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_fd_to_metric_families as text_families

# The Accept header Prometheus sends (scrape/scrape.go), q-values included.
ACCEPT = ("application/openmetrics-text;version=1.0.0,"
          "application/openmetrics-text;version=0.0.1;q=0.75,"
          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
OPENMETRICS_TYPE = "application/openmetrics-text"

Parser = Callable[[Iterable[str]], Iterator[Metric]]


@dataclass(frozen=True)
class ExpositionFormat:
    """One wire format: its name for ``up``'s reason and prometheus-client's parser."""

    name: str
    parse: Parser
    needs_eof: bool  # OpenMetrics ends with "# EOF"; a body without it may be cut short
    # Text 0.0.4 writes a counter's, histogram's or summary's ``_created`` series as a
    # gauge family of its own; in OpenMetrics it belongs to its family.
    created_family: bool


OPENMETRICS = ExpositionFormat("OpenMetrics 1.0.0", openmetrics_families, needs_eof=True,
                             created_family=False)
TEXT = ExpositionFormat("text 0.0.4", text_families, needs_eof=False,
                      created_family=True)


def format_for(content_type: str | None) -> tuple[ExpositionFormat, str]:
    """The format to read a body with, and how it was chosen (for ``up``'s reason)."""
    if not content_type:
        return TEXT, f"{TEXT.name} (no Content-Type, read as {TEXT.name})"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == OPENMETRICS_TYPE:
        return OPENMETRICS, f"{OPENMETRICS.name} (Content-Type {content_type})"
    if media == "text/plain":
        return TEXT, f"{TEXT.name} (Content-Type {content_type})"
    return TEXT, f"{TEXT.name} (unknown Content-Type {content_type!r}, read as {TEXT.name})"
