"""Signing in to Seller Central: a state machine over the pages Amazon may show.

Each turn reads which page the browser shows (by ids, addresses and names from
selectors.yaml, wording as further candidates) and acts on it, until the signed-in frame
appears. The pages it knows: email and password (on one page or two), the one-time code
(with or without the remember-device box), prompts after sign-in that can be passed by a
"Not now"-like link, and the account picker. A page only a person can clear (CAPTCHA, a
code sent by email or SMS, a device choice, an unknown page) stops it with
:class:`~rpa.errors.NeedsPerson`.

The password is typed at most once per walk. Once it was submitted, any failure (a
timeout, an error page, an unknown page) ends the walk as "a person is needed", which the
orchestrator never retries, and no further sign-in is tried in that run: retrying would
type the password again, which is how accounts get CAPTCHAs and locks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from loguru import logger
from playwright.sync_api import Error as PlaywrightError

from rpa.browser.selectors import declare
from rpa.errors import NeedsPerson, PageError
from rpa.otp import fresh_code, totp
from rpa.seller_central.picker import AccountPicker

if TYPE_CHECKING:
    import pyotp
    from playwright.sync_api import Page

    from rpa.seller_central.pages import SellerCentral

# Pages the sign-in routine recognises, in order of precedence: a page that matches two
# keys is the earlier one. Verification comes before the OTP page because its code field
# can carry the same label; prompts come after every page with a form of its own.
SIGNIN_STATES = [
    "challenge.captcha",
    "challenge.cvf_page",
    "challenge.cvf",
    "mfa.select_device",
    "app.server_error",
    "picker.heading",
    "mfa.code",
    "signin.password",
    "signin.email",
    "prompt.skip",
    "app.signed_in",
]
VERIFICATION = ("verification", "Amazon sent a verification code by email or SMS")
NEEDS_PERSON = {
    "challenge.captcha": ("captcha", "a CAPTCHA is shown"),
    "challenge.cvf_page": VERIFICATION,
    "challenge.cvf": VERIFICATION,
    "mfa.select_device": ("otp_device", "Amazon asks which device should get a code"),
}
# Pages drawn inside the signed-in frame that still are not a signed-in page.
SIGNED_IN_LOOKALIKES = ("app.server_error", "picker.heading", "challenge.captcha")
MAX_SIGNIN_PAGES = 12
MAX_OTP_TRIES = 2
ASSIST_MINUTES = 10


# The selectors.yaml keys this module asks for: a file without one of them is refused
# before any browser starts (declared to rpa.browser.selectors).
SELECTOR_KEYS: tuple[str, ...] = (
    "app.server_error",
    "app.signed_in",
    "challenge.captcha",
    "challenge.cvf",
    "challenge.cvf_page",
    "mfa.code",
    "mfa.remember_device",
    "mfa.select_device",
    "mfa.submit",
    "picker.heading",
    "prompt.skip",
    "signin.continue",
    "signin.email",
    "signin.error",
    "signin.password",
    "signin.remember_me",
    "signin.submit",
)
declare(__name__, SELECTOR_KEYS)


class SignIn:
    """One walk through the sign-in pages for the run's account."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.ctx = sc.ctx
        self.sel = sc.sel
        self.password_typed = False

    @property
    def page(self) -> Page:
        return self.sc.page

    def where(self) -> str:
        return self.sc.where()

    def run(self, state: str | None = None) -> None:
        """Walk the sign-in pages (email, password, OTP, prompts, picker) until signed in.

        With ``assist`` (a VA watching a visible browser), a page only a person can clear
        is left to the VA: the bot waits for the signed-in page, then saves the state.
        """
        if self.ctx.signin_failed:
            self._stop(NeedsPerson(
                "no new sign-in in this run: an earlier one failed after the password was "
                f"typed ({self.ctx.signin_failed})", reason="signin_failed_earlier",
                url=self._url()))
        try:
            self._walk(state)
        except NeedsPerson as err:
            if not self.ctx.assist:
                if self.password_typed:
                    self.ctx.signin_failed = str(err)
                self._stop(err)
            logger.warning("{} — finish the sign-in in the browser window; waiting up to "
                           "{} minutes", err, ASSIST_MINUTES)
            with self.ctx.step("signed in by the VA"):
                self.sel.find(self.page, "app.signed_in", timeout_ms=ASSIST_MINUTES * 60_000)
            self.ctx.save_state()  # with the trace paused: the state is the session

    def _stop(self, err: NeedsPerson) -> NoReturn:
        """Record the page the walk stopped on (a failed step takes its screenshot), then raise."""
        with self.ctx.step(f"sign in: stopped ({err.reason})"):
            raise err

    def _url(self) -> str:
        try:
            return self.page.url if self.ctx.session is not None else ""
        except PlaywrightError:
            return ""

    def _walk(self, state: str | None) -> None:
        """The walk; after the password was submitted every failure becomes NeedsPerson."""
        try:
            self._pages(state)
        except NeedsPerson:
            raise
        except Exception as err:
            if not self.password_typed:
                raise  # nothing secret was sent yet: a technical retry is safe
            first = str(err).splitlines()[0] if str(err) else ""
            raise NeedsPerson(
                f"sign-in failed after the password was submitted ({type(err).__name__}: "
                f"{first}); not retried so that the password is not typed again",
                reason="signin_failed", url=self._url()) from err

    def _pages(self, state: str | None) -> None:
        gen = totp(self.ctx.secret("totp_secret"))
        last_code: str | None = None
        otp_tries = 0
        state = state or self.where()
        for _ in range(MAX_SIGNIN_PAGES):
            if state == "app.signed_in":
                self.ctx.save_state()  # with the trace paused: the state is the session
                return
            if state in NEEDS_PERSON:
                reason, text = NEEDS_PERSON[state]
                raise NeedsPerson(f"sign-in stopped: {text}", reason=reason, url=self.page.url)
            if state == "app.server_error":
                raise PageError(f"Seller Central showed a server error at {self.page.url}")
            if state == "signin.email":
                self._email()
            elif state == "signin.password":
                self._password()
            elif state == "mfa.code":
                otp_tries += 1
                if otp_tries > MAX_OTP_TRIES:
                    raise NeedsPerson("Seller Central rejected the one-time code twice",
                                      reason="otp_rejected", url=self.page.url)
                last_code = self._code(gen, last_code)
            elif state == "picker.heading":
                AccountPicker(self.sc).pick()
            elif state == "prompt.skip":
                self._skip_prompt()
            state = self.where()
        raise NeedsPerson("sign-in did not finish after many pages", reason="signin_loop",
                          url=self.page.url)

    def _email(self) -> None:
        with self.ctx.step("sign in: email"):
            self.sel.find(self.page, "signin.email").fill(self.ctx.account.email)
            self._submit("signin.continue")

    def _password(self) -> None:
        """Type the password (and the email when the form asks for both) and submit, once."""
        if self.password_typed:
            if self.sel.present(self.page, "signin.error"):
                raise NeedsPerson("Seller Central rejected the password",
                                  reason="password_rejected", url=self.page.url)
            raise NeedsPerson("Seller Central asked for the password again",
                              reason="password_again", url=self.page.url)
        one_page = self.sel.present(self.page, "signin.email")
        with self.ctx.step("sign in: email and password" if one_page else "sign in: password"):
            if one_page:
                self.sel.find(self.page, "signin.email").fill(self.ctx.account.email)
            field = self.sel.find(self.page, "signin.password")
            remember = self.sel.any_of(self.page, "signin.remember_me").first
            if remember.count() and not remember.is_checked():
                remember.check()
            with self.ctx.private():
                field.fill(self.ctx.secret("password"))
                target = self.sel.find(self.page, "signin.submit")
                # From the click on, the password may have reached Amazon.
                self.password_typed = True
                with self.page.expect_navigation(wait_until="domcontentloaded"):
                    target.click()

    def _code(self, gen: pyotp.TOTP, last_code: str | None) -> str:
        """Type a fresh one-time code, ticking the remember-device box when the page has one."""
        with self.ctx.step("sign in: one-time code" + (" (again)" if last_code else "")):
            # The run's clock (real time unless a test injects one).
            code = fresh_code(gen, avoid=last_code, clock=lambda: self.ctx.clock().timestamp())
            field = self.sel.find(self.page, "mfa.code")
            remember = self.sel.any_of(self.page, "mfa.remember_device").first
            if remember.count() and not remember.is_checked():
                remember.check()
            with self.ctx.private():
                field.fill(code)
                self._submit("mfa.submit")
        return code

    def _skip_prompt(self) -> None:
        """Pass a prompt (passkey, mobile number, account fixup) by its 'not now' link."""
        link = self.sel.find(self.page, "prompt.skip")
        words = " ".join((link.inner_text() or "").split()) or "link"
        with self.ctx.step(f"sign in: pass the prompt ({words})"):
            with self.page.expect_navigation(wait_until="domcontentloaded"):
                link.click()

    def _submit(self, key: str) -> None:
        """Click and wait for the next page to load."""
        target = self.sel.find(self.page, key)
        with self.page.expect_navigation(wait_until="domcontentloaded"):
            target.click()
