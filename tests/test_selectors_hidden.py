"""Hidden elements never decide a page: every wait and check of the selectors engine asks
for a visible match, whatever hidden element matches a candidate first in document order.

Amazon's own sign-in pages carry such elements: the password page a hidden
``<input type="hidden" name="email" id="ap_email">`` above ``#ap_password``, the email page
a hidden ``name=password`` input. Real Chromium, pages set in place (no server needed).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from rpa.browser.chromium import KeptBrowser
from rpa.browser.selectors import Selectors, parse_selectors
from rpa.config import BrowserConfig
from rpa.errors import SelectorNotFound
from rpa.seller_central.signin import SIGNIN_STATES

# As the saved Amazon pages have them (evidence S4): the hidden inputs come first.
PASSWORD_PAGE = """
<h1>Sign in</h1>
<form name="signIn" method="post" action="/ap/signin">
  <input type="hidden" name="appActionToken" value="t">
  <input type="hidden" name="email" id="ap_email" value="seller@example.com">
  <label for="ap_password">Password</label>
  <input type="password" id="ap_password" name="password">
  <span><input type="submit" id="signInSubmit" value="Sign in"></span>
  <label><input type="checkbox" name="rememberMe" value="true"> Keep me signed in</label>
  <button id="continue" type="button" style="display:none">Sign in with a passkey</button>
</form>
"""
EMAIL_PAGE = """
<h1>Sign in</h1>
<form name="signIn" method="post" action="/ap/signin">
  <input type="password" id="ap-credential-autofill-hint" name="password" class="aok-hidden"
         style="display:none">
  <label for="ap_email">Email or mobile phone number</label>
  <input type="email" id="ap_email" name="email">
  <span><input type="submit" id="continue" value="Continue"></span>
</form>
"""


@pytest.fixture()
def page(kept_browser: KeptBrowser) -> Iterator[Page]:
    _, browser = kept_browser.get(BrowserConfig(), headed=False)
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_password_page_with_a_hidden_email_input_above_is_the_password_page(
        page: Page) -> None:
    sel = Selectors.load(timeout_ms=3000)
    page.set_content(PASSWORD_PAGE)
    assert sel.which(page, SIGNIN_STATES) == "signin.password"
    assert not sel.present(page, "signin.email")  # not the one-page form
    assert not sel.present_any(page, ["signin.email", "signin.continue"])
    assert sel.present(page, "signin.password")
    assert sel.find(page, "signin.password").get_attribute("id") == "ap_password"


def test_the_email_page_with_a_hidden_password_input_is_the_email_page(page: Page) -> None:
    sel = Selectors.load(timeout_ms=3000)
    page.set_content(EMAIL_PAGE)
    assert sel.which(page, SIGNIN_STATES) == "signin.email"
    assert not sel.present(page, "signin.password")
    assert sel.find(page, "signin.email").get_attribute("id") == "ap_email"


def test_waits_fills_and_clicks_take_the_visible_match_of_a_candidate(page: Page) -> None:
    """One candidate whose first match is hidden and whose second is shown: the shown one."""
    sel = Selectors(parse_selectors({"p": {
        "box": [{"css": "input.box"}],
        "go": [{"css": "button.go"}],
        "gone": [{"css": "#never"}, {"css": "input.box[type=hidden]"}],
    }}, "t.yaml"), timeout_ms=2000)
    page.set_content("""
        <input class="box" type="hidden" value="hidden">
        <input class="box" id="shown">
        <button class="go" style="display:none" onclick="document.title='hidden'">x</button>
        <button class="go" onclick="document.title='shown'">Go</button>""")
    assert sel.find(page, "p.box").get_attribute("id") == "shown"
    assert sel.wait(page, "p.box").get_attribute("id") == "shown"
    sel.fill(page, "p.box", "typed")
    assert page.locator("#shown").input_value() == "typed"
    sel.click(page, "p.go")
    assert page.title() == "shown"
    assert not sel.present(page, "p.gone")  # matched, but only by a hidden element
    with pytest.raises(SelectorNotFound):
        sel.which(page, ["p.gone"], timeout_ms=500)
    with pytest.raises(SelectorNotFound):
        sel.find(page, "p.gone", timeout_ms=500)
