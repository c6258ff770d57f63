"""Keep passwords out of reasons: a scrape error is stored and shown on dashboards."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def redact(url_or_dsn: str) -> str:
    """``redis://:s3cret@host`` → ``redis://:***@host``; ``password=x`` → ``password=***``."""
    if "://" not in url_or_dsn:
        return _DSN_PASSWORD.sub(r"\1***", url_or_dsn)
    parts = urlsplit(url_or_dsn)
    if parts.password is None:
        return url_or_dsn
    userinfo, hostport = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))
