"""A page as evidence of what it is made of: its accessibility snapshot and a scrubbed copy
of its HTML, for a reviewer to see which element a key should have found.

The accessibility snapshot is Playwright's ``aria_snapshot()`` of the body (open shadow
roots included: it follows the page as a person's screen reader does). The HTML is the
page as it stands (what ``page.content()`` gives) with every open shadow root written out
as a declarative ``<template shadowrootmode="open">``, and scrubbed while it is written:

- no script, no event handler, no ``javascript:`` address, and a content security policy
  that lets the copy load nothing, so opening it runs nothing and tells no one;
- the values of inputs and text areas, the contents of the elements the caller names as
  private (buyer names, message texts, order ids: selectors.yaml keys, by their CSS
  candidates) and of elements whose ids or classes say they hold an address, a person's
  name or a message's text, replaced by placeholders (``[buyer name]``, ``[input]``,
  ``[address]``, ``[message]``);
- long data attributes (state blobs) replaced by ``[data]``.

Both texts are then scrubbed of the private texts found (wherever else they show, the
accessibility snapshot included), of email addresses and Amazon order ids, and of every
registered secret. No cookies or storage are read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlparse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from rpa.browser.selectors import Selectors
from rpa.redact import scrub

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ORDER_ID = re.compile(r"(?<![\d-])\d{3}-\d{7}-\d{7}(?![\d-])")
# Ids and classes that say an element holds a person's name or an address.
PRIVATE_HINT = (r"address|buyer-?name|customer-?name|recipient|ship-?to|snippet"
                r"|message-?(?:body|text)")
# A text shorter than this is not replaced wherever it shows (it would garble words).
MIN_TEXT = 2
ARIA_TIMEOUT_MS = 10000

_SERIALISE = r"""
({privateCss, hint, csp}) => {
  const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                        "meta", "source", "track", "wbr"]);
  const KEEP = new RegExp("^(id|class|role|name|type|for|href|src|alt|title|lang|dir|" +
                          "hidden|slot|part|data-test|data-testid|data-test-id|data-tile|" +
                          "aria-[a-z]+)$");
  const hintRe = new RegExp(hint, "i");
  const found = [];
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const escAttr = (s) => esc(s).replace(/"/g, "&quot;");
  const privateOf = (el) => {
    for (const [css, placeholder] of privateCss) {
      try { if (el.matches(css)) return placeholder; } catch (e) { /* not for this page */ }
    }
    const names = [el.id, typeof el.className === "string" ? el.className : "",
                   el.getAttribute("data-test"), el.getAttribute("data-testid")].join(" ");
    const m = names.match(hintRe);
    if (!m) return null;
    if (/address|ship/i.test(m[0])) return "[address]";
    return /snippet|message/i.test(m[0]) ? "[message]" : "[name]";
  };
  const attrs = (el) => {
    let out = "";
    const tag = el.localName;
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      let value = a.value;
      if (name.startsWith("on")) continue;
      if (/^\s*javascript:/i.test(value)) value = "";
      if (name === "value" && (tag === "input" || tag === "button")) {
        value = value ? "[input]" : "";
      } else if (tag === "meta" && name === "content" && el.name !== "viewport") {
        value = "[meta]";
      } else if (!KEEP.test(name) && (value.length > 100 || value.includes("{"))) {
        value = "[data]";
      }
      out += " " + a.name + '="' + escAttr(value) + '"';
    }
    return out;
  };
  const children = (parent) => {
    let out = "";
    for (const child of parent.childNodes) out += node(child);
    return out;
  };
  const node = (n) => {
    if (n.nodeType === Node.TEXT_NODE) return esc(n.data);
    if (n.nodeType !== Node.ELEMENT_NODE) return "";
    const el = n;
    const tag = el.localName;
    if (["script", "noscript", "template"].includes(tag)) return "";
    if (el.hasAttribute("data-rpa-teach-ui")) return "";
    let inner = tag === "head" ? csp : "";
    if (el.shadowRoot) {
      inner += '<template shadowrootmode="open">' + children(el.shadowRoot) + "</template>";
    }
    const placeholder = privateOf(el);
    if ((tag === "input" || tag === "textarea") && el.value) {
      found.push([el.value, "[input]"]);
    }
    if (placeholder) {
      const text = (el.innerText || el.textContent || "").trim();
      if (text) found.push([text, placeholder]);
      inner += placeholder;
    } else if (tag === "textarea") {
      inner += el.value ? "[input]" : "";
    } else {
      inner += children(el);
    }
    if (VOID.has(tag)) return "<" + tag + attrs(el) + ">";
    return "<" + tag + attrs(el) + ">" + inner + "</" + tag + ">";
  };
  const html = (document.doctype ? "<!DOCTYPE html>\n" : "") + node(document.documentElement);
  return {html, found};
}
"""
# The copy loads nothing (no script, no image, no font from anywhere) when it is opened.
CSP = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
       'style-src \'unsafe-inline\'; img-src data:">')


@dataclass(frozen=True)
class PageSnapshot:
    """What a page was made of: where, its accessibility snapshot, its scrubbed HTML."""

    path: str
    aria: str
    html: str


def _serialised(page: Page, selectors: Selectors, private: dict[str, str]
                ) -> tuple[str, list[tuple[str, str]]]:
    """The page's scrubbed HTML, and the private texts found (each with its placeholder)."""
    css: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    for key, placeholder in private.items():
        if key not in selectors:
            continue
        css += [(c, placeholder) for c in selectors.plain(key) or []]
        texts += [(t, placeholder) for t in selectors.texts(page, key)]
    out = page.evaluate(_SERIALISE, {"privateCss": css, "hint": PRIVATE_HINT, "csp": CSP})
    texts += [(str(t), str(p)) for t, p in out["found"]]
    return str(out["html"]), texts


def private_texts(page: Page, selectors: Selectors, private: dict[str, str]
                  ) -> list[tuple[str, str]]:
    """The private texts the page shows (as :func:`take` finds them), each with its
    placeholder: what :func:`scrub_text` replaces in another text taken from the page."""
    return _serialised(page, selectors, private)[1]


def take(page: Page, selectors: Selectors, private: dict[str, str]) -> PageSnapshot:
    """The page's snapshot, scrubbed; ``private`` maps selectors.yaml keys whose elements
    hold buyer data to their placeholder (``{"thread.buyer": "[buyer name]"}``)."""
    html, texts = _serialised(page, selectors, private)
    try:
        aria = page.locator("body").aria_snapshot(timeout=ARIA_TIMEOUT_MS)
    except PlaywrightError as err:
        aria = f"# no accessibility snapshot: {str(err).splitlines()[0]}\n"
    path = urlparse(page.url).path or "/"
    return PageSnapshot(path, scrub_text(aria, texts), scrub_text(html, texts, html=True))


def scrub_text(text: str, private: Iterable[tuple[str, str]], *, html: bool = False) -> str:
    """``text`` with each private text (line by line, however its spaces and quotes are
    written) replaced by its placeholder, then email addresses, order ids and secrets."""
    for value, placeholder in sorted(set(private), key=lambda vp: -len(vp[0])):
        for line in value.splitlines():
            words = line.split()
            if len(" ".join(words)) < MIN_TEXT:
                continue
            text = _pattern(words, html).sub(placeholder, text)
    text = EMAIL.sub("[email]", text)
    text = ORDER_ID.sub("[order id]", text)
    return scrub(text)


def _pattern(words: list[str], html: bool) -> re.Pattern[str]:
    """The words as they may be written: any spaces between them, quotes escaped for YAML
    or JSON, ``&amp; &lt; &gt; &quot;`` in HTML; not inside a longer word."""
    def one(word: str) -> str:
        forms = {word, json.dumps(word)[1:-1]}
        if html:
            forms.add(word.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                      .replace('"', "&quot;"))
        return "(?:" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + ")"

    body = r"\s+".join(one(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)")
