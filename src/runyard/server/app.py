"""The FastAPI app, built per daemon by :func:`create_app` (no module-level state)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from runyard import __version__
from runyard.context import Context
from runyard.server.auth import BodyLimit, TokenAuth
from runyard.server.errors import install_error_handlers
from runyard.server.routes import exports, files, gpus, metrics, runs, streams, system, training, ui
from runyard.service.streams import QueueFeed


def create_app(ctx: Context, token: str) -> FastAPI:
    settings = ctx.home.settings
    app = FastAPI(
        title="runyard",
        version=__version__,
        description="A queue and dashboard for training runs on your own GPU machines. "
        "Every request needs the daemon's token: `Authorization: Bearer <token>`, `?token=<token>` "
        "(which also sets a session cookie) or that cookie. The token is in $RUNYARD_HOME/server.json.",
    )
    app.state.ctx = ctx
    app.state.queue_feed = QueueFeed(ctx)
    install_error_handlers(app)
    for module in (system, runs, metrics, files, exports, streams, gpus, training):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(ui.router)  # last: the web UI's pages answer what the API does not
    # Outermost last: CORS answers preflights (which carry no token), then the body limit,
    # then the token check in front of every route, the docs included.
    origins = [o.strip() for o in (settings.cors_origins or "").split(",") if o.strip()]
    hosts = (settings.allowed_hosts or "").split(",")
    app.add_middleware(TokenAuth, token=token, allowed_hosts=hosts, trusted_origins=origins)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"])
    return app
