"""Pointing at an element in the page: a person clicks it, the bot derives the candidates
that find it and checks them.

:class:`Pointer` puts a listener on the page (and on every page the tab opens next) that
takes each click, and the presses and submits around it, before the page sees them (so a
click on "Send" sends nothing and a link goes nowhere), marks the clicked element
``data-rpa-picked`` and hands a description of it to the bot through an exposed binding.
A click made by a person and one a test makes through Playwright take the same way. The
element may sit inside an open shadow root: the click's composed path leads to it.

:func:`derive` turns the element into candidates in the order selectors.yaml prefers: its
id, a stable attribute (``data-test``, ``data-testid``, ``data-test-id``, ``name``), for
a key naming the rows of a list its kind within the nearest ancestor with an id, its role
and accessible name, its label, its text. Names and texts with digits (a figure's value
changes) are left out, and so are words for an element holding private data.
:func:`verify` keeps a candidate only when it finds exactly that one element (a list's:
that element and only others of its kind).

A banner and boxes around elements (:meth:`Pointer.say`, :meth:`Pointer.mark`) are drawn
in a closed shadow root that takes no clicks and that no candidate can find.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from rpa.browser.selectors import ROLES, Candidate, Scope

PICKED = "data-rpa-picked"
BINDING = "rpaPicked"
STABLE_ATTRIBUTES = ("data-test", "data-testid", "data-test-id", "name")
# Ids a page makes up as it draws (numbered, hashed) change from one visit to the next.
MADE_UP_ID = re.compile(r"\d{4,}|^[0-9a-f]{8,}$|autoid|^(ember|react|ng-|__)", re.I)
LONGEST_TEXT = 80
_FIRST_LINE = re.compile(r'^- (?P<role>[a-z]+)(?: "(?P<name>(?:[^"\\]|\\.)*)")?')

_SCRIPT = r"""
(() => {
  if (window.__rpaPointer) return;
  const host = document.createElement("div");
  host.setAttribute("data-rpa-teach-ui", "");
  host.style.cssText = "position:absolute;left:0;top:0;width:0;height:0;z-index:2147483647;" +
                       "pointer-events:none";
  const root = host.attachShadow({mode: "closed"});
  const banner = document.createElement("div");
  banner.style.cssText = "position:fixed;left:0;right:0;bottom:0;padding:10px 14px;" +
    "font:14px/1.4 sans-serif;background:#232f3e;color:#fff;white-space:pre-wrap";
  root.appendChild(banner);
  const state = {listening: false, picked: false, root, banner, boxes: []};
  window.__rpaPointer = state;
  const attach = () => { if (!host.isConnected) document.documentElement.appendChild(host); };
  attach();
  document.addEventListener("DOMContentLoaded", attach);
  const describe = (el) => ({
    tag: el.localName,
    idSelector: el.id ? "#" + CSS.escape(el.id) : "",
    id: el.id || "",
    attributes: Object.fromEntries(__ATTRIBUTES__
      .filter((a) => el.hasAttribute(a)).map((a) => [a, el.getAttribute(a)])),
    labels: Array.from(el.labels || []).map((l) => l.innerText.trim()).filter(Boolean),
    ariaLabel: el.getAttribute("aria-label") || "",
    text: (el.innerText || el.textContent || "").trim(),
    control: ["input", "textarea", "select"].includes(el.localName),
    classes: Array.from(el.classList).map((c) => "." + CSS.escape(c)).join(""),
    anchors: (() => {
      const out = [];
      for (let a = el.parentElement; a && out.length < 8; a = a.parentElement) {
        if (a.id) out.push([a.id, "#" + CSS.escape(a.id)]);
      }
      return out;
    })(),
    inShadow: el.getRootNode() instanceof ShadowRoot,
  });
  state.describe = describe;
  state.widen = () => {
    const el = (state.previous || [])[0];
    if (!el) return null;
    const up = el.parentElement || (el.getRootNode() instanceof ShadowRoot ?
                                    el.getRootNode().host : null);
    if (!up || up === document.documentElement) return null;
    el.removeAttribute("__PICKED__");
    up.setAttribute("__PICKED__", "");
    state.previous = [up];
    return describe(up);
  };
  const stop = (e) => {
    const target = e.composedPath()[0];
    if (!(target instanceof Element) || target === host) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    if (e.type !== "click" || !state.listening) return;
    state.listening = false;
    for (const old of state.previous || []) old.removeAttribute("__PICKED__");
    target.setAttribute("__PICKED__", "");
    state.previous = [target];
    window.__BINDING__(describe(target)).then(() => { state.picked = true; });
  };
  for (const type of ["pointerdown", "mousedown", "pointerup", "mouseup", "click",
                      "dblclick", "auxclick", "contextmenu", "submit"]) {
    document.addEventListener(type, stop, true);
  }
})()
""".replace("__ATTRIBUTES__", repr(list(STABLE_ATTRIBUTES))).replace(
    "__PICKED__", PICKED).replace("__BINDING__", BINDING)

_MARK = """(els, colour) => {
  const state = window.__rpaPointer;
  for (const el of els) {
    const r = el.getBoundingClientRect();
    const box = document.createElement("div");
    box.style.cssText = `position:absolute;left:${r.left + scrollX - 3}px;` +
      `top:${r.top + scrollY - 3}px;width:${r.width + 2}px;height:${r.height + 2}px;` +
      `border:3px solid ${colour};border-radius:3px`;
    state.root.appendChild(box);
    state.boxes.push(box);
  }
  return els.length;
}"""


@dataclass(frozen=True)
class Picked:
    """What the page said of the element clicked."""

    tag: str
    id_selector: str
    attributes: dict[str, str]
    labels: tuple[str, ...]
    aria_label: str
    text: str
    control: bool
    in_shadow: bool
    classes: str = ""  # ".a.b", escaped
    anchor: str = ""  # the nearest ancestor's id that is not made up, as "#id"


class Pointer:
    """The page's click listener and the banner and boxes drawn over it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.picks: list[Picked] = []
        page.expose_binding(BINDING, self._picked)
        page.add_init_script(script=_SCRIPT)
        page.evaluate(_SCRIPT)

    def _picked(self, source: Any, description: dict[str, Any]) -> None:
        self.picks.append(Picked(
            tag=str(description.get("tag") or ""),
            id_selector=str(description.get("idSelector") or "") if not MADE_UP_ID.search(
                str(description.get("id") or "")) else "",
            attributes={str(k): str(v) for k, v in dict(description.get("attributes")
                                                        or {}).items() if v},
            labels=tuple(str(x) for x in description.get("labels") or ()),
            aria_label=str(description.get("ariaLabel") or ""),
            text=" ".join(str(description.get("text") or "").split()),
            control=bool(description.get("control")),
            in_shadow=bool(description.get("inShadow")),
            classes=str(description.get("classes") or ""),
            anchor=next((str(css) for raw, css in description.get("anchors") or ()
                         if not MADE_UP_ID.search(str(raw))), "")))

    def widen(self) -> tuple[Picked, Locator] | None:
        """Take the element around the one picked instead (a row around the word clicked);
        None when there is none but the page itself."""
        described = self.page.evaluate("() => window.__rpaPointer.widen()")
        if not described:
            return None
        self._picked(None, described)
        return self.picks[-1], self.page.locator(f"[{PICKED}]")

    def say(self, text: str) -> None:
        self.page.evaluate("(t) => { window.__rpaPointer.banner.textContent = t; }", text)

    def mark(self, loc: Locator, colour: str) -> int:
        """Draw a box around every element ``loc`` finds; how many it found."""
        try:
            return int(loc.evaluate_all(_MARK, colour))
        except PlaywrightError:
            return 0

    def clear(self) -> None:
        self.page.evaluate("() => { const s = window.__rpaPointer;"
                           " s.boxes.forEach((b) => b.remove()); s.boxes = []; }")

    def wait(self, timeout_ms: float, person: Callable[[Page], None] | None = None
             ) -> tuple[Picked, Locator]:
        """Listen for one click and return what was clicked and the element; ``person``
        acts in the page meanwhile (a test's click), else a person at the window does.
        PlaywrightError (a timeout) when nothing is clicked in time."""
        self.page.evaluate("() => { window.__rpaPointer.listening = true;"
                           " window.__rpaPointer.picked = false; }")
        if person is not None:
            person(self.page)
        self.page.wait_for_function("() => window.__rpaPointer && window.__rpaPointer.picked",
                                    timeout=timeout_ms, polling=100)
        return self.picks[-1], self.page.locator(f"[{PICKED}]")


def derive(picked: Picked, element: Locator, *, words: bool = True,
           listed: bool = False) -> list[Candidate]:
    """Candidates for the element, in selectors.yaml's order of preference; ``words``
    False leaves out those made of what it says (its text, name or label); ``listed``
    (a key naming every row of a list) adds the element's kind within its nearest
    ancestor with an id (``#message-threads div.thread-row``)."""
    out: list[Candidate] = []
    if picked.id_selector:
        out.append(Candidate("css", picked.id_selector))
    for name in STABLE_ATTRIBUTES:
        value = picked.attributes.get(name)
        if value:
            quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
            out.append(Candidate("css", f"{picked.tag}[{name}={quoted}]"))
    if listed and picked.anchor and picked.classes:
        out.append(Candidate("css", f"{picked.anchor} {picked.tag}{picked.classes}"))
    if not words:
        return out
    role, name = role_and_name(element)
    if role in ROLES and name and _steady(name):
        out.append(Candidate("role", role, name, True))
    label = next(iter(picked.labels), "") or (picked.aria_label if picked.control else "")
    if picked.control and label and _steady(label):
        out.append(Candidate("label", label, exact=True))
    if picked.text and len(picked.text) <= LONGEST_TEXT and _steady(picked.text):
        out.append(Candidate("text", picked.text, exact=True))
    return out


def _steady(text: str) -> bool:
    """Words that stay: no digit (a count, a date, an id changes), one line."""
    return not any(c.isdigit() for c in text) and "\n" not in text


def role_and_name(element: Locator) -> tuple[str, str]:
    """The element's role and accessible name as its accessibility snapshot gives them."""
    try:
        first = element.aria_snapshot(timeout=5000).splitlines()[0]
    except (PlaywrightError, IndexError):
        return "", ""
    m = _FIRST_LINE.match(first.strip())
    if not m:
        return "", ""
    name = m.group("name") or ""
    return m.group("role"), name.replace('\\"', '"').replace("\\\\", "\\")


def verify(cand: Candidate, scope: Scope, *, alike: bool = False) -> str:
    """'' when ``cand`` finds exactly the picked element in ``scope`` (with ``alike``: the
    picked element and only elements of its tag and classes, the rows of a list), else
    why not."""
    try:
        loc = cand.build(scope, {})
        count = loc.count()
        if alike and count:
            ok = loc.evaluate_all(
                "(els, picked) => { const p = els.find((e) => e.hasAttribute(picked));"
                " return !!p && els.every((e) => e.localName === p.localName &&"
                " e.className === p.className); }", PICKED)
            return "" if ok else "finds other kinds of elements too, or not the one clicked"
        if count != 1:
            return "finds nothing" if not count else f"finds {count} elements, not one"
        if not loc.evaluate(f"(e) => e.hasAttribute('{PICKED}')"):
            return "finds another element"
    except PlaywrightError as err:
        return f"cannot be tried: {str(err).splitlines()[0]}"
    return ""
