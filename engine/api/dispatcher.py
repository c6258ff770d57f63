"""``handle(method, path, headers, body) -> Response``: the API without a socket.

Every outcome is a Response: bad input gets a 4xx JSON reason, failures a 5xx
JSON reason, never a traceback. Metrics are recorded here, once per request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from time import perf_counter, thread_time
from typing import Any
from urllib.parse import parse_qs

from pydantic import ValidationError

from engine.api import models as m
from engine.api.response import Response, error_response, json_response
from engine.api.routing import Route, RouteTable
from engine.builders import BuilderError
from engine.db.database import DatabaseError
from engine.db.replication import PrimaryUnavailable
from engine.instruments import NullInstruments
from engine.network import NetworkModel
from engine.service import BulkItem, NotFound, Service

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _validation_reason(exc: ValidationError) -> tuple[int, str]:
    errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return 400, "invalid JSON body"
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return 422, f"{where}: {first['msg']}"


_USER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _check_user_id(user_id: str) -> None:
    if not _USER_ID.match(user_id):
        raise ApiError(400, "user id must be 1-64 characters of [A-Za-z0-9_.:-]")


class Api:
    def __init__(self, service: Service, instruments: NullInstruments,
                 network: NetworkModel, max_body_bytes: int) -> None:
        self.service = service
        self._inst = instruments
        self._started = instruments.counter("requests_started")
        self._network = network
        self._max_body = max_body_bytes
        # Work a fault adds to every request (a hot loop); None normally.
        self.extra_work: Callable[[], None] | None = None
        self.routes = RouteTable(self._route_list())

    def _route_list(self) -> list[Route]:
        return [
            Route("GET", "/v2/health", self._health),
            Route("GET", "/v2/personas", self._personas),
            Route("GET", "/v2/personas/{persona_id}", self._persona),
            Route("POST", "/v2/route", self._route),
            Route("POST", "/v2/recommend", self._recommend),
            Route("POST", "/v2/sessions", self._create_session),
            Route("GET", "/v2/sessions/{session_id}", self._session),
            Route("POST", "/v2/feedback", self._feedback),
            Route("GET", "/v2/users/{user_id}/preferences", self._get_prefs),
            Route("PUT", "/v2/users/{user_id}/preferences", self._put_prefs),
            Route("POST", "/v2/bulk-process", self._bulk),
            Route("GET", "/v2/analytics/summary", self._summary),
            Route("POST", "/v1/recommend", self._v1_recommend),
            Route("POST", "/v1/route", self._v1_route),
        ]

    # -- entry point ---------------------------------------------------------
    def handle(self, method: str, path: str, headers: Mapping[str, str] | None = None,
               body: bytes = b"") -> Response:
        inst = self._inst
        if not inst.enabled:
            return self._dispatch(method, path, body)[1]
        self._started()
        cpu0 = thread_time()
        t0 = perf_counter()
        endpoint, status = "unmatched", 500  # if dispatch itself is interrupted
        try:
            endpoint, resp = self._dispatch(method, path, body)
            status = resp.status
        finally:
            elapsed = perf_counter() - t0
            inst.request_finished(endpoint, status, elapsed + self._network.sample(),
                                  thread_time() - cpu0)
        return resp

    def _dispatch(self, method: str, path: str, body: bytes) -> tuple[str, Response]:
        if self.extra_work is not None:
            self.extra_work()
        path, _, query = path.partition("?")
        match = self.routes.match(method.upper(), path)
        if match.route is None:
            if match.endpoint == "unmatched":
                return match.endpoint, error_response(404, f"no such endpoint: {path}")
            return match.endpoint, error_response(405, f"method {method} not allowed")
        if len(body) > self._max_body:
            return match.endpoint, error_response(
                413, f"body of {len(body)} bytes exceeds {self._max_body}")
        try:
            payload = match.route.handler(body, query, **match.params)
            return match.endpoint, json_response(200, payload)
        except ValidationError as exc:
            status, reason = _validation_reason(exc)
            return match.endpoint, error_response(status, reason)
        except ApiError as exc:
            return match.endpoint, error_response(exc.status, exc.reason)
        except NotFound as exc:
            return match.endpoint, error_response(404, str(exc))
        except BuilderError:
            return match.endpoint, error_response(500, "prompt builder failed")
        except PrimaryUnavailable:
            return match.endpoint, error_response(503, "primary region unavailable")
        except DatabaseError:
            log.warning("database error on %s", match.endpoint, exc_info=True)
            return match.endpoint, error_response(500, "database error")
        except Exception:
            log.exception("unhandled error on %s", match.endpoint)
            return match.endpoint, error_response(500, "internal error")

    # -- handlers: (body, query, **path params) -> JSON-able -----------------------
    def _health(self, body: bytes, query: str) -> Any:
        return self.service.health()

    def _personas(self, body: bytes, query: str) -> Any:
        return {"personas": self.service.personas()}

    def _persona(self, body: bytes, query: str, persona_id: str) -> Any:
        return self.service.persona(persona_id)

    def _route(self, body: bytes, query: str) -> Any:
        req = m.RouteBody.model_validate_json(body)
        return self.service.route(req.message)

    def _recommend(self, body: bytes, query: str) -> Any:
        req = m.RecommendBody.model_validate_json(body)
        return self.service.recommend(req.user_id, req.message)

    def _create_session(self, body: bytes, query: str) -> Any:
        req = m.SessionBody.model_validate_json(body)
        return self.service.create_session(req.user_id, req.persona_id)

    def _session(self, body: bytes, query: str, session_id: str) -> Any:
        return self.service.session(session_id)

    def _feedback(self, body: bytes, query: str) -> Any:
        req = m.FeedbackBody.model_validate_json(body)
        return self.service.feedback(req.user_id, req.persona_id, req.rating)

    def _get_prefs(self, body: bytes, query: str, user_id: str) -> Any:
        _check_user_id(user_id)
        return {"user_id": user_id, **self.service.preferences(user_id)}

    def _put_prefs(self, body: bytes, query: str, user_id: str) -> Any:
        _check_user_id(user_id)
        req = m.PreferencesBody.model_validate_json(body)
        return self.service.put_preferences(user_id, req.model_dump())

    def _bulk(self, body: bytes, query: str) -> Any:
        req = m.BulkBody.model_validate_json(body)
        items = [BulkItem(i.user_id, i.message) for i in req.items]
        return {"results": self.service.bulk(items)}

    def _summary(self, body: bytes, query: str) -> Any:
        window = parse_qs(query).get("window_s", ["3600"])[0]
        try:
            window_s = float(window)
        except ValueError:
            raise ApiError(400, f"window_s must be a number, got {window!r}") from None
        if not 0 < window_s <= 90 * 86_400:
            raise ApiError(400, "window_s must be in (0, 7776000]")
        return self.service.analytics_summary(window_s)

    def _v1_recommend(self, body: bytes, query: str) -> Any:
        req = m.V1RecommendBody.model_validate_json(body)
        rec = self.service.recommend(req.user, req.text)
        return {"persona": rec["persona"], "prompt": rec["prompt"], "api_version": "v1"}

    def _v1_route(self, body: bytes, query: str) -> Any:
        req = m.V1RouteBody.model_validate_json(body)
        return {**self.service.route(req.text), "api_version": "v1"}
