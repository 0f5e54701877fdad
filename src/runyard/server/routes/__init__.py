"""REST routers: thin handlers that call a service and shape the answer."""

from typing import Annotated

from fastapi import Path, Request

from runyard.daemon.yard import Yard


def yard_of(request: Request) -> Yard:
    yard: Yard = request.app.state.yard
    return yard


RunIdPath = Annotated[int, Path(ge=1, le=2**62, description="the run's id")]
"""A run id in a path; bounded, so that no number reaches the database it cannot hold."""
