"""The FastAPI app, built per daemon by :func:`create_app` (no module-level state)."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from runyard import __version__
from runyard.daemon.yard import Yard
from runyard.server.auth import make_token_check
from runyard.server.errors import install_error_handlers
from runyard.server.routes import gpus, metrics, runs, system


def create_app(yard: Yard, token: str) -> FastAPI:
    app = FastAPI(
        title="runyard",
        version=__version__,
        description="A queue and dashboard for training runs on your own GPU machines.",
        dependencies=[Depends(make_token_check(token))],
    )
    app.state.yard = yard
    install_error_handlers(app)
    for module in (system, runs, metrics, gpus):
        app.include_router(module.router, prefix="/api/v1")
    return app
