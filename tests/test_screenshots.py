"""Step screenshots on real Chromium: the full-page capture (both encodings) masks secret
fields (also inside shadow roots), leaves the page as it was, gives the pixels Playwright's
screenshot gives, is cut at the height limit, and gives way to Playwright's screenshot when
the page does not answer in time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from rpa.browser.chromium import BrowserSession, launch
from rpa.config import BrowserConfig
from rpa.run import capture
from rpa.run.evidence import MASK_COLOUR, MAX_SHOT_HEIGHT, Evidence

FORM = """<!doctype html><html><head><style>
  body { margin: 0; font: 16px sans-serif; background: #fff; }
  input { position: absolute; width: 200px; height: 30px; border: 1px solid #888;
          background: #f4f4f4; color: #000; }
  #ap_password { left: 40px; top: 40px; }
  .spin { position: absolute; left: 400px; top: 40px; width: 20px; height: 20px;
          background: #36c; animation: turn 1s linear infinite; }
  @keyframes turn { to { transform: rotate(360deg); } }
</style></head><body>
  <input id="ap_password" type="text" value="hunter2-visible">
  <div class="spin"></div>
  <shadow-host style="position:absolute;left:40px;top:120px"></shadow-host>
  <script>
    const host = document.querySelector('shadow-host');
    const root = host.attachShadow({mode: 'open'});
    root.innerHTML = '<input name="otpCode" value="123456" style="width:200px;height:30px;'
      + 'position:static;background:#f4f4f4">';
  </script>
</body></html>"""

COLOUR = tuple(int(MASK_COLOUR[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture()
def session(tmp_path: Path) -> Iterator[BrowserSession]:
    s = launch(BrowserConfig(), tmp_path / "state.json")
    yield s
    s.close()


def _box(page: Any, selector: str) -> tuple[int, int, int, int]:
    b = page.locator(selector).bounding_box()
    assert b is not None
    return int(b["x"]), int(b["y"]), int(b["x"] + b["width"]), int(b["y"] + b["height"])


def _pixels(path: Path, box: tuple[int, int, int, int]) -> set[tuple[int, ...]]:
    with Image.open(path) as img:
        region = img.convert("RGB").crop(box)
        return {c for _, c in (region.getcolors(maxcolors=1 << 20) or [])}


def _page_state(page: Any) -> Any:
    return page.evaluate("""() => ({
        nodes: document.querySelectorAll('*').length,
        carets: [...document.querySelectorAll('input')].map(i => i.style.caretColor),
        running: document.getAnimations().map(a => a.playState)})""")


@pytest.mark.parametrize("fast", [False, True], ids=["compact", "fast"])
def test_capture_masks_secret_fields_and_puts_the_page_back(
        session: BrowserSession, tmp_path: Path, fast: bool) -> None:
    page = session.page
    page.set_content(FORM)
    before = _page_state(page)
    assert before["running"] == ["running"]
    evidence = Evidence(tmp_path / "rec", "run-1", fast_screenshots=fast)
    masks = [page.locator("#ap_password"), page.locator("input[name='otpCode']")]

    def no_playwright_shot(*_: Any, **__: Any) -> None:
        raise AssertionError("the capture through the protocol should have been used")

    page.screenshot = no_playwright_shot  # type: ignore[method-assign]
    shot = evidence.screenshot(page, "form", masks)
    assert shot is not None and capture.supported()
    path = evidence.folder / shot
    assert path.stat().st_mode & 0o777 == 0o600
    # Both secret fields, the one in the shadow root too, are the mask colour only.
    for selector in ("#ap_password", "input[name='otpCode']"):
        assert _pixels(path, _box(page, selector)) == {COLOUR}, selector
    # Elsewhere the page is itself: the white page, not the mask.
    assert _pixels(path, (300, 200, 360, 260)) == {(255, 255, 255)}
    assert _page_state(page) == before, "the page is left as it was: no layer, carets back"

    # Without masks the same field shows its own colours.
    plain = evidence.screenshot(page, "form-unmasked", [])
    assert plain is not None
    field = _pixels(evidence.folder / plain, _box(page, "#ap_password"))
    assert (244, 244, 244) in field and len(field) > 2, "the field and its text show"


def test_a_long_page_is_cut_at_the_height_limit_and_noted(
        session: BrowserSession, tmp_path: Path) -> None:
    page = session.page
    page.set_content(f"<body style='margin:0'><div style='height:{MAX_SHOT_HEIGHT + 900}px;"
                     "background:linear-gradient(#fff,#ccc)'></div></body>")
    evidence = Evidence(tmp_path / "rec", "run-1")
    shot = evidence.screenshot(page, "long", [])
    assert shot is not None
    with Image.open(evidence.folder / shot) as img:
        assert img.size == (1280, MAX_SHOT_HEIGHT)
    assert evidence.notes and f"cut at {MAX_SHOT_HEIGHT} px" in evidence.notes[0]


def test_a_page_busy_past_the_deadline_gets_playwrights_screenshot(
        session: BrowserSession, tmp_path: Path) -> None:
    """The fast capture's wait for the page has the step's deadline; a page whose script
    holds it longer gets Playwright's screenshot (with its own deadline) once it answers."""
    page = session.page
    page.set_content("<body><p>busy</p></body>")
    before = _page_state(page)
    page.evaluate("() => setTimeout(() => { const end = Date.now() + 1500;"
                  " while (Date.now() < end) {} }, 50)")
    page.wait_for_timeout(100)  # the page's script now holds its main thread
    shots: list[bool] = []
    playwright_shot = page.screenshot

    def counted(*args: Any, **kwargs: Any) -> Any:
        shots.append(kwargs.get("full_page", False))
        return playwright_shot(*args, **kwargs)

    page.screenshot = counted  # type: ignore[method-assign]
    evidence = Evidence(tmp_path / "rec", "run-1")
    shot = evidence.screenshot(page, "busy", [], timeout_ms=500)
    assert shot is not None and (evidence.folder / shot).stat().st_size > 0
    assert shots == [True], "the fast capture gave up; Playwright's full page was taken"
    assert _page_state(page) == before, "nothing of the capture is left on the page"


def test_both_encodings_give_the_pixels_of_playwrights_screenshot(
        session: BrowserSession, tmp_path: Path) -> None:
    page = session.page
    page.set_content(FORM)
    masks = [page.locator("#ap_password"), page.locator("input[name='otpCode']")]
    page.screenshot(path=str(tmp_path / "playwright.png"), full_page=True, mask=masks,
                    mask_color=MASK_COLOUR, animations="disabled")
    sizes = {}
    for fast in (False, True):
        evidence = Evidence(tmp_path / f"rec-{fast}", "run-1", fast_screenshots=fast)
        shot = evidence.screenshot(page, "form", masks)
        assert shot is not None
        path = evidence.folder / shot
        sizes[fast] = path.stat().st_size
        with Image.open(path) as ours, Image.open(tmp_path / "playwright.png") as theirs:
            assert ours.size == theirs.size
            assert ImageChops.difference(ours.convert("RGB"),
                                         theirs.convert("RGB")).getbbox() is None, fast
    assert sizes[True] > sizes[False], "the fast encoding trades file size for time"


def test_the_sign_in_pages_secret_fields_are_masked_as_selectors_yaml_finds_them(
        session: BrowserSession, sandbox: Any, tmp_path: Path) -> None:
    """The run's masks are selectors.yaml's (labels first, then ids): on the sandbox's
    password page, with the password typed, the field is the mask colour only."""
    from rpa.browser.selectors import Selectors
    from rpa.run.context import MASK_KEYS

    sandbox.reset("healthy")
    login = sandbox.login()
    page = session.page
    page.goto(sandbox.url + "/ap/signin")
    page.locator("#ap_email").fill(login["email"])
    page.locator("#continue").click()
    page.locator("#ap_password").fill("not-the-password-but-visible-if-unmasked")
    sel = Selectors.load()
    masks = [sel.any_of(page, key) for key in MASK_KEYS]
    evidence = Evidence(tmp_path / "rec", "run-1")
    shot = evidence.screenshot(page, "password", masks)
    assert shot is not None
    assert _pixels(evidence.folder / shot, _box(page, "#ap_password")) == {COLOUR}
