"""Every refusal of the management API in one JSON shape: `{"error": ..., "problems": [{path, ...}]}`.

A custom route class does it, so the router carries its own error handling into whatever app mounts it
(exception handlers belong to the app, which the runtime builds). FastAPI's request validation errors are
rewritten to JSON paths (`$.caps[0].max`, `query.limit`, `header.If-Match`) with a hint on what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from rumbo.ingest.errors import child
from rumbo.manage.errors import Invalid, ManageError, ProblemAt, Unauthenticated, from_store_error
from rumbo.store.errors import StoreError

_HINTS = {
    "missing": "add this field",
    "extra_forbidden": "remove this field: it is not part of the request",
    "json_invalid": "send a JSON body (Content-Type: application/json)",
    "model_attributes_type": "send a JSON object",
    "dict_type": "send a JSON object",
    "string_pattern_mismatch": "use letters, digits, '_', '.' and '-', starting with a letter or '_'",
}


def validation_problems(errors: Sequence[Any]) -> list[ProblemAt]:
    problems = []
    for error in errors:
        where, *rest = error.get("loc", ("body",))
        if where == "body":
            path = "$"
            for part in rest:
                path = child(path, part if isinstance(part, int) else str(part))
        else:
            path = ".".join([str(where), *map(str, rest)])
        problems.append(ProblemAt(path, str(error.get("msg", "invalid")), _HINTS.get(str(error.get("type")))))
    return problems


def error_response(exc: ManageError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="rumbo"'} if isinstance(exc, Unauthenticated) else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


class ManageRoute(APIRoute):
    """An APIRoute that answers rumbo's errors and request validation errors in the API's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                count = len(exc.errors())
                problems = validation_problems(exc.errors())
                return error_response(
                    Invalid(f"the request has {count} problem{'s' if count != 1 else ''}", problems)
                )
            except ManageError as exc:
                return error_response(exc)
            except StoreError as exc:
                return error_response(from_store_error(exc))

        return route
