"""The ledger's storage interface: the SQLite ledger implements every operation it declares,
with the same signature, and every operation callers use is declared there. The checker is
shown to fail on implementations that do not fit."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, Protocol

from rpa.ledger import Ledger, LedgerStore

ROOT = Path(__file__).resolve().parents[1]


def declared(interface: type) -> dict[str, Any]:
    """The operations and properties ``interface`` declares, by name."""
    return {name: value for name, value in vars(interface).items()
            if not name.startswith("_") and (callable(value) or isinstance(value, property))}


def _annotation(cls: type, name: str) -> str | None:
    """The annotation of attribute ``name`` anywhere in ``cls``'s classes (None: none)."""
    for klass in cls.__mro__:
        found = vars(klass).get("__annotations__", {}).get(name)
        if found is not None:
            return str(found)
    return None


def mismatches(impl: type, interface: type) -> list[str]:
    """How ``impl`` fails to provide what ``interface`` declares: a missing operation, or
    one whose parameters (names, kinds, defaults, annotations) or result differ."""
    bad: list[str] = []
    for name, want in declared(interface).items():
        if isinstance(want, property):
            got_prop = inspect.getattr_static(impl, name, None)
            have = (str(inspect.signature(got_prop.fget).return_annotation)
                    if isinstance(got_prop, property) and got_prop.fget is not None
                    else _annotation(impl, name))
            wanted = str(inspect.signature(want.fget).return_annotation) if want.fget else ""
            if have != wanted:
                bad.append(f"{name}: a {wanted} attribute is declared, found {have}")
            continue
        got = inspect.getattr_static(impl, name, None)
        if not inspect.isfunction(got):
            bad.append(f"{name}: missing (or not a method)")
            continue
        want_sig, got_sig = inspect.signature(want), inspect.signature(got)
        want_params = [(p.name, p.kind, p.default, str(p.annotation))
                       for p in want_sig.parameters.values()]
        got_params = [(p.name, p.kind, p.default, str(p.annotation))
                      for p in got_sig.parameters.values()]
        if want_params != got_params:
            bad.append(f"{name}: parameters {got_sig} differ from {want_sig}")
        elif str(want_sig.return_annotation) != str(got_sig.return_annotation):
            bad.append(f"{name}: returns {got_sig.return_annotation}, declared"
                       f" {want_sig.return_annotation}")
    return bad


def test_the_sqlite_ledger_implements_the_store() -> None:
    assert len(declared(LedgerStore)) > 40, "too few operations found to be the interface"
    assert mismatches(Ledger, LedgerStore) == []


def test_every_operation_callers_use_is_in_the_store() -> None:
    """What the run, the owner, the console, the CLI and the flows call on a ledger is
    declared by the interface (private names aside: ``rpa ledger new`` works on the SQLite
    file itself; the configuration's ``ledger`` section and its keys, as code and messages
    name them, are not the ledger)."""
    files = [p for p in [*(ROOT / "rpa").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]
             if "ledger" not in p.relative_to(ROOT).parts[:2]]
    used = {name for path in files
            for name in re.findall(r"(?<!rpa\.)\bledger\.(?!sqlite\b)([a-z]\w*)",
                                   path.read_text())}
    assert {"escalate", "outbox_sending", "claim_run_alert", "where"} <= used, used
    config_keys = {"url", "password", "password_env"}  # ledger.url, "ledger.password", ...
    assert sorted(used - set(declared(LedgerStore)) - config_keys) == []


def test_the_store_serves_through_the_interface(tmp_path: Path) -> None:
    store: LedgerStore = Ledger(tmp_path / "ledger.sqlite")
    try:
        store.start_run("r1", "main", False)
        store.outbox_sending("escalation:E001", "sms", "E001: x", "", "r1")
        store.outbox_done("escalation:E001", "sms", True)
        store.outbox_sending("escalation:E001", "details", "E001: x", "", "r1")
        store.outbox_done("escalation:E001", "details", False)
        store.outbox_sending("run_alert:main", "sms", "failed", "", "r1")
        unsent = store.outbox_unsent()
        assert [(u["channel"], u["state"], u["account"]) for u in unsent] == [
            ("sms", "sending", "main"), ("details", "failed", "main")]
        assert store.outbox_unsent(1) == unsent[:1]
        assert store.escalate("main", "email", "<m@x>", summary="{code}: s",
                              details="d") == ("E001", True)
        assert [d["channel"] for d in store.deliveries("E001")] == ["sms", "details"]
    finally:
        store.close()


# ---- the checker itself must be able to fail ------------------------------------------

class Small(Protocol):
    @property
    def where(self) -> Path: ...

    def find(self, key: str, *, limit: int = 10) -> list[str]: ...


class Fits:
    where: Path

    def find(self, key: str, *, limit: int = 10) -> list[str]:
        return []


class Missing:
    where: Path


class OtherDefault(Fits):
    def find(self, key: str, *, limit: int = 20) -> list[str]:
        return []


class Positional(Fits):
    def find(self, key: str, limit: int = 10) -> list[str]:
        return []


class Renamed(Fits):
    def find(self, name: str, *, limit: int = 10) -> list[str]:
        return []


class OtherType(Fits):
    def find(self, key: int, *, limit: int = 10) -> list[str]:  # type: ignore[override]
        return []


class OtherResult(Fits):
    def find(self, key: str, *, limit: int = 10) -> list[int]:  # type: ignore[override]
        return []


class NoWhere:
    def find(self, key: str, *, limit: int = 10) -> list[str]:
        return []


class WrongLedger(Ledger):
    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        return super().runs(limit)


def test_the_checker_passes_a_fitting_implementation() -> None:
    assert mismatches(Fits, Small) == []


def test_the_checker_reports_what_does_not_fit() -> None:
    assert mismatches(Missing, Small) == ["find: missing (or not a method)"]
    for wrong in (OtherDefault, Positional, Renamed, OtherType):
        assert [m.split(":")[0] for m in mismatches(wrong, Small)] == ["find"], wrong
    assert mismatches(OtherResult, Small) == [
        "find: returns list[int], declared list[str]"]
    assert [m.split(":")[0] for m in mismatches(NoWhere, Small)] == ["where"]
    assert [m.split(":")[0] for m in mismatches(WrongLedger, LedgerStore)] == ["runs"]
