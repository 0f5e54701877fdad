"""The one place that maps runyard's errors to HTTP answers: a 4xx with a JSON body
that says what is wrong, never a traceback."""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from runyard.errors import Conflict, InvalidSpec, NotFound, RunyardError

log = logging.getLogger(__name__)

STATUS = [(NotFound, 404, "not_found"), (InvalidSpec, 422, "invalid_spec"), (Conflict, 409, "conflict")]


def error_body(kind: str, detail: str, field: str | None = None) -> dict[str, str | None]:
    return {"error": kind, "detail": detail, "field": field}


def _validation_detail(error: RequestValidationError) -> tuple[str, str | None]:
    first = error.errors()[0] if error.errors() else {}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(loc) or None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    return (f"{field}: {message}" if field else message), field


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RunyardError)
    async def runyard_error(_: Request, error: RunyardError) -> JSONResponse:
        for cls, status, kind in STATUS:
            if isinstance(error, cls):
                return JSONResponse(error_body(kind, str(error), getattr(error, "field", None)), status)
        return JSONResponse(error_body("error", str(error)), 400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        detail, field = _validation_detail(error)
        return JSONResponse(error_body("invalid_request", detail, field), 422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        kinds = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return JSONResponse(error_body(kinds.get(error.status_code, "error"), str(error.detail)), error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # The answer names no exception, path or value (they may be the daemon's secrets);
        # the id finds the traceback in the daemon's log.
        incident = secrets.token_hex(6)
        log.exception("internal error %s on %s %s", incident, request.method, request.url.path)
        return JSONResponse(error_body("internal", f"internal error {incident}: see the daemon's log"), 500)
