"""Signing in to Seller Central: email, password, one-time code, prompts, account picker.

The routine reads which page the browser shows and acts on it, page after page, until the
signed-in frame appears; a page only a person can clear (CAPTCHA, a code sent by
email/SMS, an unknown page) stops it with :class:`~rpa.errors.NeedsPerson`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loguru import logger

from rpa.errors import NeedsPerson, PageError
from rpa.seller_central.otp import fresh_code, totp
from rpa.seller_central.picker import AccountPicker

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from rpa.seller_central.pages import SellerCentral

# Pages the sign-in routine recognises, in the order they are checked.
SIGNIN_STATES = [
    "challenge.captcha",
    "challenge.cvf",
    "mfa.select_device",
    "app.server_error",
    "picker.heading",
    "mfa.code",
    "signin.password",
    "signin.email",
    "signin.fixup_skip",
    "signin.use_password",
    "app.signed_in",
]
NEEDS_PERSON = {
    "challenge.captcha": ("captcha", "a CAPTCHA (Robot Check) is shown"),
    "challenge.cvf": ("verification", "Amazon sent a verification code by email/SMS"),
    "mfa.select_device": ("otp_device", "Amazon asks which device should get a code"),
}
# Pages drawn inside the signed-in frame that still are not a signed-in page.
SIGNED_IN_LOOKALIKES = ("app.server_error", "picker.heading", "challenge.captcha")
MAX_SIGNIN_PAGES = 12
MAX_OTP_TRIES = 2
ASSIST_MINUTES = 10


class SignIn:
    """One walk through the sign-in pages for the run's account."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.ctx = sc.ctx
        self.sel = sc.sel

    @property
    def page(self) -> Page:
        return self.sc.page

    def where(self) -> str:
        return self.sc.where()

    def run(self, state: str | None = None) -> None:
        """Walk the sign-in pages (email, password, OTP, account picker) until signed in.

        With ``assist`` (a VA watching a visible browser), a page only a person can clear
        is left to the VA: the bot waits for the signed-in page, then saves the state.
        """
        try:
            self._sign_in(state)
        except NeedsPerson as err:
            if not self.ctx.assist:
                raise
            logger.warning("{} — finish the sign-in in the browser window; waiting up to "
                           "{} minutes", err, ASSIST_MINUTES)
            with self.ctx.step("signed in by the VA"):
                self.sel.find(self.page, "app.signed_in", timeout_ms=ASSIST_MINUTES * 60_000)
            if self.ctx.session is not None:
                self.ctx.session.save_state()

    def _sign_in(self, state: str | None = None) -> None:
        acc = self.ctx.account
        gen = totp(self.ctx.secret("totp_secret"))
        last_code: str | None = None
        otp_tries = 0
        password_tries = 0
        state = state or self.where()
        for _ in range(MAX_SIGNIN_PAGES):
            if state == "app.signed_in":
                if self.ctx.session is not None:
                    self.ctx.session.save_state()
                return
            if state in NEEDS_PERSON:
                reason, text = NEEDS_PERSON[state]
                raise NeedsPerson(f"sign-in stopped: {text}", reason=reason, url=self.page.url)
            if state == "app.server_error":
                raise PageError(f"Seller Central showed a server error at {self.page.url}")
            if state == "signin.email":
                with self.ctx.step("sign in: email"):
                    self.sel.find(self.page, "signin.email").fill(acc.email)
                    self._submit("signin.continue")
            elif state == "signin.password":
                password_tries += 1
                if password_tries > 1 and self.sel.present(self.page, "signin.error"):
                    raise NeedsPerson("Seller Central rejected the password",
                                      reason="password_rejected", url=self.page.url)
                with self.ctx.step("sign in: password"):
                    field = self.sel.find(self.page, "signin.password")
                    remember = self.sel.candidates(self.page, "signin.remember_me")[0]
                    if remember.count() and not remember.first.is_checked():
                        remember.first.check()
                    with self.ctx.private():
                        field.fill(self.ctx.secret("password"))
                        self._submit("signin.submit")
            elif state == "mfa.code":
                otp_tries += 1
                if otp_tries > MAX_OTP_TRIES:
                    raise NeedsPerson("Seller Central rejected the one-time code twice",
                                      reason="otp_rejected", url=self.page.url)
                with self.ctx.step("sign in: one-time code" + (" (again)" if last_code else "")):
                    code = fresh_code(gen, avoid=last_code)
                    last_code = code
                    field = self.sel.find(self.page, "mfa.code")
                    remember = self.sel.find(self.page, "mfa.remember_device", state="attached")
                    if not remember.is_checked():
                        remember.check()
                    with self.ctx.private():
                        field.fill(code)
                        self._submit("mfa.submit")
            elif state == "picker.heading":
                AccountPicker(self.sc).pick()
            elif state in ("signin.fixup_skip", "signin.use_password"):
                with self.ctx.step("sign in: skip prompt"):
                    self._submit(state)
            state = self.where()
        raise NeedsPerson("sign-in did not finish after many pages", reason="signin_loop",
                          url=self.page.url)

    def _submit(self, key: str) -> None:
        """Click and wait for the next page to load."""
        target = self.sel.find(self.page, key)
        with self.page.expect_navigation(wait_until="domcontentloaded"):
            target.click()
