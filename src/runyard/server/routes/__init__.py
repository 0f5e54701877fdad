"""REST routers: thin handlers that call a service and shape the answer."""

from fastapi import Request

from runyard.daemon.yard import Yard


def yard_of(request: Request) -> Yard:
    yard: Yard = request.app.state.yard
    return yard
