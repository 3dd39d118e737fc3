"""Several sellers in one sandbox: an agency's accounts, each its own Seller Central login.

A sellers file (``sellers/*.yaml``, or any path) lists sellers; each names a bundled
scenario as its ``base`` (the layout, the metrics, the page variants) and replaces any of
its top-level keys (``seller``, ``accounts``, ``unshipped_orders``, ``threads``, ...), so
each seller has its own login, names, figures and buyer-messages inbox. Every seller is
validated as a scenario on load; a problem is a :class:`ScenarioError` naming the file,
the seller and the key.

:class:`SellersSandbox` serves them together: one server per seller, each on a loopback
port of its own (a seller's pages and state are the single-seller sandbox's, unchanged),
started and stopped as one.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from rpa.practice.sandbox.scenario import (
    Scenario,
    ScenarioError,
    _load_yaml,
    _location,
    scenario_path,
)
from rpa.practice.sandbox.server import SandboxServer

SELLERS_DIR = Path(__file__).with_name("sellers")


def list_sellers_files() -> list[str]:
    """Names of the bundled sellers files."""
    return sorted(p.stem for p in SELLERS_DIR.glob("*.yaml"))


def sellers_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix in (".yaml", ".yml") or "/" in text or "\\" in text:
        return candidate
    bundled = SELLERS_DIR / f"{text}.yaml"
    if not bundled.is_file():
        raise ScenarioError(f"unknown sellers file {text!r}; bundled: "
                            f"{', '.join(list_sellers_files())}")
    return bundled


def _read(path: Path) -> Any:
    try:
        return _load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except Exception as exc:  # noqa: BLE001 - yaml's errors, named with the file
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc


def load_sellers(name_or_path: str | Path = "six-sellers") -> list[Scenario]:
    """The sellers of a bundled sellers file by name, or of a file by path, each a
    validated scenario named ``<file>/<n>`` (n from 1)."""
    path = sellers_path(name_or_path)
    raw = _read(path)
    entries = raw.get("sellers") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ScenarioError(f"{path}: sellers: expected a list of sellers")
    out: list[Scenario] = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: sellers[{n - 1}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("base"), str):
            raise ScenarioError(f"{where}: base: name the bundled scenario it starts from")
        base = _read(scenario_path(entry["base"]))
        data = {**base, **{k: v for k, v in entry.items() if k != "base"},
                "name": f"{path.stem}/{n}"}
        try:
            out.append(Scenario.model_validate(data))
        except ValidationError as exc:
            problems = "; ".join(f"{_location(err['loc'])}: {err['msg']}"
                                 for err in exc.errors())
            raise ScenarioError(f"{where}: {problems}") from None
    emails = [s.seller.email.lower() for s in out]
    if len(set(emails)) != len(emails):
        raise ScenarioError(f"{path}: each seller needs an email of its own")
    return out


class SellersSandbox:
    """The sellers of a sellers file, each served by a sandbox of its own on loopback."""

    def __init__(self, sellers: str | Path = "six-sellers", *, count: int | None = None,
                 host: str = "127.0.0.1") -> None:
        scenarios = load_sellers(sellers)
        if count is not None and not 1 <= count <= len(scenarios):
            raise ScenarioError(f"{sellers_path(sellers)} has {len(scenarios)} sellers: "
                                f"ask for 1 to {len(scenarios)}")
        self.servers = [SandboxServer(sc, host=host) for sc in scenarios[:count]]

    def start(self) -> SellersSandbox:
        try:
            for server in self.servers:
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> SellersSandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
