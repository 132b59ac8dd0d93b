"""Response headers every answer carries, and credentials that must never sit in a URL.

A URL is written to access logs, browser history, proxies and ``Referer`` headers, so a token
in one is as good as published: a request carrying something that looks like a credential in
its query string or path is refused (400) before any route sees it, the refusal is audited
without the value, and the access log's copy of the URL is redacted
(:class:`RedactCredentialsFilter`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from urllib.parse import unquote

#: Sent with every response, errors and 500s included.
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
#: The whole policy for responses that are not HTML (JSON, GeoJSON, images): nothing may run,
#: nothing may frame them.
NON_HTML_CSP = "default-src 'none'; frame-ancestors 'none'"
#: What campus data is cached with unless a route says otherwise (tiles, static assets do).
DEFAULT_CACHE_CONTROL = "private, no-store"
HSTS = "max-age=31536000"


def html_csp(script_hashes: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy of gridmap's own HTML pages: everything from this origin,
    no inline script except the given ``sha256-...`` hashes, never framed."""
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    return (f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def script_hash(source: str) -> str:
    """The CSP hash source of one inline ``<script>`` body."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def inline_script_hashes(page: str) -> tuple[str, ...]:
    """CSP hashes of every inline ``<script>`` (without ``src``) in an HTML page."""
    return tuple(script_hash(body) for body in re.findall(
        r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page, flags=re.S | re.I))


# --- credentials in URLs ----------------------------------------------------------------------

#: Query parameter names that carry credentials in some API or other.
CREDENTIAL_PARAMS = frozenset({
    "token", "access_token", "accesstoken", "api_key", "apikey", "api-key", "key",
    "auth", "authorization", "bearer", "session", "session_id", "sessionid", "id_token",
    "refresh_token", "jwt", "password", "passwd", "secret", "gridmap_session",
})
# gridmap's own tokens (gm_), session ids (gs_), share link secrets (gsh_) and share sessions
# (gss_): 32 random bytes, url-safe base64
_OWN_SECRET = re.compile(r"g(?:m|s|sh|ss)_[A-Za-z0-9_-]{20,}")
_PARAM = re.compile(r"(?:^|[&;?])([^=&;?]+)=([^&;?]*)")


def _decoded(text: str) -> str:
    """``text`` percent-decoded twice (a ``next=`` holds an encoded URL that holds a query)."""
    once = unquote(text.replace("+", " "))
    return unquote(once.replace("+", " "))


def credential_in_url(path: str, query: str) -> str | None:
    """Why this URL is refused (``"query parameter 'token'"``), or None if it carries no
    credential. The value is never part of the answer."""
    for part in (query, _decoded(query)):
        for name, value in _PARAM.findall(part):
            if name.strip().lower() in CREDENTIAL_PARAMS and value.strip():
                return f"query parameter {name.strip().lower()[:40]!r}"
    if _OWN_SECRET.search(_decoded(query)):
        return "a gridmap token or session id in the query string"
    if _OWN_SECRET.search(_decoded(path)):
        return "a gridmap token or session id in the path"
    return None


def redact_url(url: str) -> str:
    """A path with query that is safe to log: credential parameters and gridmap secrets
    replaced by ``[redacted]``."""
    path, sep, query = url.partition("?")
    parts = re.split(r"([&;])", query)
    for i, part in enumerate(parts):
        name, eq, _value = part.partition("=")
        if eq and _decoded(name).strip().lower() in CREDENTIAL_PARAMS:
            parts[i] = f"{name}=[redacted]"
    query = "".join(parts)
    redacted = path + sep + query
    if _OWN_SECRET.search(_decoded(redacted)):
        # an encoded secret somewhere: keep only the path's first segment
        return "/" + path.lstrip("/").split("/", 1)[0] + "/[redacted]"
    return redacted


class RedactCredentialsFilter(logging.Filter):
    """Redacts credentials from uvicorn's access log lines (their URL argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            # uvicorn.access: (client_addr, method, full_path, http_version, status_code)
            record.args = (*args[:2], redact_url(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    """Add :class:`RedactCredentialsFilter` to uvicorn's access logger (once per process)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactCredentialsFilter) for f in access.filters):
        access.addFilter(RedactCredentialsFilter())
