"""Request bodies, validated at the boundary (pydantic v2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

UserId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
Message = Field(min_length=1, max_length=4000)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RouteBody(_Body):
    message: str = Message


class RecommendBody(_Body):
    user_id: str = UserId
    message: str = Message


class SessionBody(_Body):
    user_id: str = UserId
    persona_id: str | None = None


class FeedbackBody(_Body):
    user_id: str = UserId
    persona_id: str
    rating: int = Field(ge=1, le=5)


class PreferencesBody(_Body):
    tone: Literal["friendly", "direct", "formal", "playful"] = "friendly"
    language: str = Field(default="en", min_length=2, max_length=8)
    preferred_persona: str | None = None


class BulkItemBody(_Body):
    user_id: str = UserId
    message: str = Message


class BulkBody(_Body):
    items: list[BulkItemBody] = Field(min_length=1, max_length=100)


class V1RecommendBody(_Body):
    """v1 names: ``user`` and ``text``."""

    user: str = UserId
    text: str = Message


class V1RouteBody(_Body):
    text: str = Message
