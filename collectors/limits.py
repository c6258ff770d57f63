"""Per-target scrape limits, with the names, defaults and meaning of Prometheus's
``scrape_config``: 0 means no limit, and a scrape past any limit fails whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from collectors.base import Sample


@dataclass(frozen=True)
class ScrapeLimits:
    body_size_limit: int = 0  # bytes of the body once decompressed
    sample_limit: int = 0  # samples kept from one scrape
    label_limit: int = 0  # labels of one series, its name (__name__) included
    label_name_length_limit: int = 0  # bytes of one label name
    label_value_length_limit: int = 0  # bytes of one label value, the metric name included

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{f.name} must be 0 (no limit) or a positive integer, "
                                 f"got {value!r}")

    def check(self, samples: Sequence[Sample]) -> str | None:
        """Why ``samples`` break a limit (the scrape then fails whole), or None."""
        if self.sample_limit and len(samples) > self.sample_limit:
            return f"sample_limit exceeded: {len(samples)} samples, limit {self.sample_limit}"
        if not (self.label_limit or self.label_name_length_limit
                or self.label_value_length_limit):
            return None
        for s in samples:
            labels = {"__name__": s.name, **s.labels}
            if self.label_limit and len(labels) > self.label_limit:
                return (f"label_limit exceeded: {s.name} has {len(labels)} labels, "
                        f"limit {self.label_limit}")
            for name, value in labels.items():
                if self.label_name_length_limit and \
                        len(name.encode()) > self.label_name_length_limit:
                    return (f"label_name_length_limit exceeded: label {name[:50]!r} of "
                            f"{s.name} is {len(name.encode())} bytes, "
                            f"limit {self.label_name_length_limit}")
                if self.label_value_length_limit and \
                        len(value.encode()) > self.label_value_length_limit:
                    return (f"label_value_length_limit exceeded: {name}={value[:50]!r} of "
                            f"{s.name} is {len(value.encode())} bytes, "
                            f"limit {self.label_value_length_limit}")
        return None
