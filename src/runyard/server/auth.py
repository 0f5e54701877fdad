"""Every request and stream needs the daemon's token: as a bearer header (the CLI), a
``?token=`` query (first browser visit, WebSocket clients) or the session cookie set then."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from fastapi import HTTPException, Request

COOKIE = "runyard_token"


def token_from(headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries (headers: starlette's case-insensitive mapping)."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return str(authorization[7:].strip())
    return query.get("token") or cookies.get(COOKIE)


def make_token_check(token: str):  # type: ignore[no-untyped-def]
    expected = token.encode()

    async def require_token(request: Request) -> None:
        given = token_from(request.headers, dict(request.query_params), request.cookies)
        if given is None or not secrets.compare_digest(given.encode(), expected):
            raise HTTPException(401, "missing or wrong token: the CLI reads it from $RUNYARD_HOME/server.json",
                                headers={"WWW-Authenticate": "Bearer"})

    return require_token
