"""The home page (classic or modern layout) and Account Health: the figures the seller checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger
from playwright.sync_api import Locator

from rpa.errors import PageError

if TYPE_CHECKING:
    from rpa.seller_central.pages import SellerCentral


def parse_count(text: str) -> int:
    """The last whole number in a text such as 'Unshipped: 1,204'."""
    found = re.findall(r"\d[\d,]*", text)
    if not found:
        raise PageError(f"no number in {text!r}")
    return int(found[-1].replace(",", ""))


@dataclass
class Area:
    key: str
    name: str
    value: str
    target: str
    status: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


class Home:
    """The dashboard, classic or modern: the same intents, the layouts differ in selectors."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.page = sc.page

    def _text(self, key: str) -> str:
        return " ".join(self.sel.find(self.page, key).inner_text().split())

    def unshipped_count(self) -> int:
        return parse_count(self._text("home.unshipped_count"))

    def buyer_messages_count(self) -> int:
        return parse_count(self._text("home.buyer_messages_count"))

    def performance_label(self) -> str:
        return self._text("home.performance_status")

    def open_performance_details(self) -> AccountHealth:
        link = self.sel.find(self.page, "home.performance_details")
        link.click()
        self.sel.find(self.page, "health.heading")
        return AccountHealth(self.sc)


class AccountHealth:
    """The Account Health page: overall status and each metric with value and target."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.page = sc.page

    def overall(self) -> str:
        return " ".join(self.sel.find(self.page, "health.overall").inner_text().split())

    def areas(self) -> list[Area]:
        self.sel.find(self.page, "health.metric_row")
        rows = self.sel.any_of(self.page, "health.metric_row").all()
        out = []
        for row in rows:
            out.append(Area(
                key=row.get_attribute("data-metric") or "",
                name=self._cell(row, "health.metric_name"),
                value=self._cell(row, "health.metric_value"),
                target=self._cell(row, "health.metric_target"),
                status=self._cell(row, "health.metric_status"),
            ))
        logger.debug("account health shows {} metrics", len(out))
        return out

    def _cell(self, row: Locator, key: str) -> str:
        return " ".join(self.sel.find(row, key, timeout_ms=3000).inner_text().split())
