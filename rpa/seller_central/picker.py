"""The "Select an account" page: choosing the configured account and marketplace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpa.errors import NeedsPerson, SelectorNotFound

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from rpa.seller_central.pages import SellerCentral


class AccountPicker:
    """The account and marketplace picker shown after sign-in to multi-account sellers."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.ctx = sc.ctx
        self.sel = sc.sel

    @property
    def page(self) -> Page:
        return self.sc.page

    def pick(self) -> None:
        """Choose the configured account and marketplace on the 'Select an account' page."""
        acc = self.ctx.account
        if not acc.account_name or not acc.marketplace:
            raise NeedsPerson("Seller Central asks to select an account, and the config names "
                              "none (accounts[].account_name / marketplace)",
                              reason="account_picker", url=self.page.url)
        with self.ctx.step(f"select account: {acc.account_name} / {acc.marketplace}"):
            try:
                self.sel.find(self.page, "picker.account", account=acc.account_name).click()
                self.sel.find(self.page, "picker.marketplace",
                              marketplace=acc.marketplace).click()
            except SelectorNotFound as err:
                raise NeedsPerson(f"account '{acc.account_name}' / marketplace "
                                  f"'{acc.marketplace}' is not offered on the picker",
                                  reason="account_picker", url=self.page.url) from err
            confirm = self.sel.find(self.page, "picker.confirm")
            with self.page.expect_navigation(wait_until="domcontentloaded"):
                confirm.click()
