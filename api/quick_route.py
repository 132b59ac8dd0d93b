"""Routes whose common case is answered before FastAPI's per-request work.

A lookup asked again, or a tile already drawn for this revision, is a few dictionary reads; on
such a request FastAPI's parameter validation and dependency solving cost as much as the
answer itself. A :func:`quick_route` tries a *quick answer* first: a function of the raw request
that returns the response when everything it needs is in memory and valid (authenticated with
the same :func:`api.auth.current_principal`, audited like the full handler), and ``None`` for
anything else — a bad parameter, a refusal, a first load, a drawing, an audit queue that could
block — which the route's ordinary FastAPI handler then answers as if the quick answer did not
exist. The route stays an ordinary :class:`~fastapi.routing.APIRoute` for OpenAPI, for the
router's authentication dependency and for every test that walks the app's routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

QuickAnswer = Callable[[Request], Awaitable[Response | None]]


def quick_route(quick: QuickAnswer) -> type[APIRoute]:
    """An :class:`APIRoute` class that answers with ``quick(request)`` when it gives a response,
    else with the route's own handler."""

    class QuickRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def quick_or_handled(request: Request) -> Response:
                answer = await quick(request)
                return answer if answer is not None else await handler(request)

            return quick_or_handled

    return QuickRoute


def bounded_int(text: str, low: int, high: int) -> int | None:
    """``text`` as an integer within [low, high]; None for anything else (left to the full
    handler to refuse with its usual message)."""
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
        return None
    value = int(text)
    return value if low <= value <= high else None
