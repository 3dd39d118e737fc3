"""The control API under ``/__sandbox/``: reset, inspect, inject faults. JSON in and out."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rpa.practice.sandbox.scenario import list_scenarios
from rpa.practice.sandbox.web import CONTROL_PREFIX, SESSION_COOKIE, sandbox


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _problem(message: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


async def reset(request: Request) -> Response:
    state = sandbox(request)
    try:
        data = await _json_body(request)
        name = data.get("scenario")
        if name is not None and not isinstance(name, str):
            raise ValueError("scenario: expected a scenario name or path")
        state.reset(name)
    except ValueError as exc:
        return _problem(str(exc))
    return JSONResponse(state.snapshot())


async def grant_session(request: Request) -> Response:
    """A session as a saved browser state would hold it: the cookie's name and value."""
    return JSONResponse({"cookie": SESSION_COOKIE, "token": sandbox(request).grant_session()})


async def get_state(request: Request) -> Response:
    return JSONResponse(sandbox(request).snapshot())


async def faults(request: Request) -> Response:
    state = sandbox(request)
    if request.method == "DELETE":
        state.clear_faults()
        return JSONResponse({"faults": state.faults.as_dict()})
    try:
        state.apply_faults(await _json_body(request))
    except ValueError as exc:
        return _problem(str(exc))
    return JSONResponse({"faults": state.faults.as_dict()})


async def totp_hint(request: Request) -> Response:
    secret = sandbox(request).scenario.seller.totp_secret
    return JSONResponse({"secret_hint": secret[:4] + "…"})


async def scenarios(request: Request) -> Response:
    return JSONResponse({"scenarios": list_scenarios(),
                         "current": sandbox(request).scenario_name})


ROUTES = [
    Route(f"{CONTROL_PREFIX}reset", reset, methods=["POST"]),
    Route(f"{CONTROL_PREFIX}state", get_state, methods=["GET"]),
    Route(f"{CONTROL_PREFIX}session", grant_session, methods=["POST"]),
    Route(f"{CONTROL_PREFIX}faults", faults, methods=["POST", "DELETE"]),
    Route(f"{CONTROL_PREFIX}totp", totp_hint, methods=["GET"]),
    Route(f"{CONTROL_PREFIX}scenarios", scenarios, methods=["GET"]),
]
