"""Flows register themselves by name with what they need before them.

Flow modules are plugins: each is named by an entry point of the group ``rpa.flows``
(``[project.entry-points."rpa.flows"]`` in pyproject.toml) and loaded from there, so the
run machinery never names the modules that hold the flows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
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
    # False for a flow started by a command of its own (``rpa selectors check``): it is
    # left out of the flows a routine is chosen from, yet a run can still plan it.
    listed: bool = True


_FLOWS: dict[str, Flow] = {}
ENTRY_POINTS = "rpa.flows"


def flow(name: str, *, needs: tuple[str, ...] = (), browser: bool = True,
         listed: bool = True) -> Callable[[FlowFunc], FlowFunc]:
    """Register a business flow under ``name``; ``needs`` are flows that must succeed first."""

    def register(func: FlowFunc) -> FlowFunc:
        doc = (func.__doc__ or "").strip().splitlines()
        _FLOWS[name] = Flow(name, func, tuple(needs), browser, doc[0] if doc else "", listed)
        return func

    return register


def _load_all() -> dict[str, Flow]:
    """Load every module named in the entry points of ``rpa.flows`` so their flows
    register; every registered flow, by name."""
    for plugin in sorted(entry_points(group=ENTRY_POINTS), key=lambda ep: ep.name):
        plugin.load()
    return dict(_FLOWS)


def load_flows() -> dict[str, Flow]:
    """The flows a routine is chosen from (every loaded flow but the unlisted ones)."""
    return {name: fl for name, fl in _load_all().items() if fl.listed}


def plan(requested: list[str]) -> list[Flow]:
    """The flows to run, in order, with the flows they need put in front of them."""
    known = _load_all()
    order: list[Flow] = []

    def add(name: str, chain: tuple[str, ...]) -> None:
        if name not in known:
            listed = sorted(n for n, fl in known.items() if fl.listed)
            raise ConfigError(f"unknown flow '{name}' (known: {', '.join(listed)})",
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
