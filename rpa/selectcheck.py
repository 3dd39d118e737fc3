"""``rpa selectors check``: which candidate of each key resolves on the live pages."""

from __future__ import annotations

from rpa.config import Config
from rpa.context import RunContext
from rpa.pages import SellerCentral
from rpa.registry import flow

# Which page each namespace lives on; keys inside a row are checked within the first row.
PAGES = {
    "app": "/home",
    "home": "/home",
    "health": "/performance/account/health",
    "orders": "/orders-v3/unshipped",
    "inbox": "/messaging/inbox-v3?fi=responseNeeded",
}
ROW_KEYS = {"health": "health.metric_row"}


@flow("selectors_check", needs=("login",))
def selectors_check(ctx: RunContext) -> None:
    """Open each page and note which candidate resolves every selectors.yaml key."""
    sc = SellerCentral(ctx)
    rows: list[list[str | None]] = []
    keys = sorted(ctx.selectors.keys)
    for path in dict.fromkeys(PAGES.values()):
        with ctx.step(f"check selectors on {path}"):
            sc.open(path)
            for key in keys:
                ns = key.split(".", 1)[0]
                if PAGES.get(ns) != path:
                    continue
                scope = ctx.page
                row_key = ROW_KEYS.get(ns)
                if row_key and key != row_key and ns == row_key.split(".")[0]:
                    if key not in ("health.heading", "health.overall"):
                        scope = ctx.selectors.any_of(ctx.page, row_key).first  # type: ignore
                rows.append([key, path, ctx.selectors.check(scope, key)])
    for key in keys:
        if key.split(".", 1)[0] not in PAGES:
            rows.append([key, "sign-in pages", ctx.selectors.won.get(key)
                         or "(not shown this run)"])
    ctx.observe("selectors", rows)


def check_selectors(cfg: Config, *, account: str | None = None,
                    headed: bool = False) -> list[tuple[str, str, str | None]]:
    """Sign in and check every key; returns (key, page, candidate or None)."""
    from rpa.orchestrator import run

    result = run(cfg, account=account, flows=["selectors_check"], headed=headed)
    rows = result.data["observations"].get("selectors") or []
    return [(r[0], r[1], r[2]) for r in rows]
