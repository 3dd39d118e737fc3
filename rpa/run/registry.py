"""Flows register themselves by name with what they need before them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rpa.errors import ConfigError

if TYPE_CHECKING:
    from rpa.run.context import RunContext

FlowFunc = Callable[["RunContext"], None]


@dataclass(frozen=True)
class Flow:
    name: str
    func: FlowFunc
    needs: tuple[str, ...]
    browser: bool
    summary: str


_FLOWS: dict[str, Flow] = {}


def flow(name: str, *, needs: tuple[str, ...] = (), browser: bool = True
         ) -> Callable[[FlowFunc], FlowFunc]:
    """Register a business flow under ``name``; ``needs`` are flows that must succeed first."""

    def register(func: FlowFunc) -> FlowFunc:
        doc = (func.__doc__ or "").strip().splitlines()
        _FLOWS[name] = Flow(name, func, tuple(needs), browser, doc[0] if doc else "")
        return func

    return register


def load_flows() -> dict[str, Flow]:
    """Import every module of the ``flows`` package so their flows register."""
    import flows as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"flows.{mod.name}")
    return dict(_FLOWS)


def plan(requested: list[str]) -> list[Flow]:
    """The flows to run, in order, with the flows they need put in front of them."""
    known = load_flows()
    order: list[Flow] = []

    def add(name: str, chain: tuple[str, ...]) -> None:
        if name not in known:
            raise ConfigError(f"unknown flow '{name}' (known: {', '.join(sorted(known))})",
                              key="flows")
        if name in chain:
            raise ConfigError(f"flows need each other in a circle: {' -> '.join(chain)}",
                              key="flows")
        for need in known[name].needs:
            add(need, (*chain, name))
        if known[name] not in order:
            order.append(known[name])

    for name in requested:
        add(name, ())
    return order
