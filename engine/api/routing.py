"""Route templates -> handlers. The template is also the ``endpoint`` metric label."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Handler = Callable[..., Any]
UNMATCHED = "unmatched"  # one label for every unknown path: bounded cardinality


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    handler: Handler


@dataclass(frozen=True, slots=True)
class Match:
    endpoint: str
    route: Route | None  # None: path known, method not allowed
    params: dict[str, str]


def _regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}$")


class RouteTable:
    def __init__(self, routes: Sequence[Route]) -> None:
        # Static paths resolve by dict lookup; templated ones by regex.
        self._static: dict[str, dict[str, Route]] = {}
        self._templated: list[tuple[re.Pattern[str], str, dict[str, Route]]] = []
        by_template: dict[str, dict[str, Route]] = {}
        for r in routes:
            by_template.setdefault(r.template, {})[r.method] = r
        for template, methods in by_template.items():
            if "{" in template:
                self._templated.append((_regex(template), template, methods))
            else:
                self._static[template] = methods

    def match(self, method: str, path: str) -> Match:
        methods = self._static.get(path)
        params: dict[str, str] = {}
        template = path
        if methods is None:
            for regex, tmpl, candidates in self._templated:
                m = regex.match(path)
                if m:
                    methods, params, template = candidates, m.groupdict(), tmpl
                    break
            else:
                return Match(UNMATCHED, None, {})
        return Match(template, methods.get(method), params)

    def templates(self) -> list[str]:
        return [*self._static, *(t for _, t, _ in self._templated)]
