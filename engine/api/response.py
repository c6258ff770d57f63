"""The response value every handler, the edge and the HTTP server pass around."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(status: int, payload: Any) -> Response:
    return Response(status, JSON_HEADERS, json.dumps(payload, separators=(",", ":")).encode())


def error_response(status: int, reason: str) -> Response:
    return json_response(status, {"error": reason, "status": status})
