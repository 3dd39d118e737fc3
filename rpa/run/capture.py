"""Full-page screenshots through Chromium's DevTools protocol, under the step's deadline.

``full_page_png`` takes the screenshot ``page.screenshot`` would: fonts loaded, carets hidden,
CSS animations and transitions at their end (endless ones stopped, then restarted), secret
fields painted over, the page as wide and as long as its document up to the caller's limits.
It prepares the page with one protocol call in the page's own world and finds the masks in
one query of Playwright's locators; a buyer thread takes 0.41-0.42 s with it, 0.45-0.48 s
with Playwright's screenshot (bench/buyer_messages.py, 28 Nov). Chromium can also encode for
speed (``browser.screenshots: fast``): the same pixels in about half the encoding time, ~40 %
more disk. Every wait on the page is under the caller's deadline; when the page does not
answer in time, or this Playwright cannot give a protocol call a deadline (an older one than
1.65), it raises ``CaptureUnavailable`` and the caller takes Playwright's screenshot instead.
"""

from __future__ import annotations

import base64
import functools
import inspect
import math
import time
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import CDPSession, Locator, Page
from playwright.sync_api import Error as PlaywrightError

# Run in the page's own world through the protocol (no Playwright script is set up there
# for it): once fonts are loaded, hides carets, settles animations, adds an empty layer for
# the masks, and hands back what paints them and what undoes all of it. Null without a
# body. ``until`` is the caller's deadline (epoch ms, the same clock): a page that gets to
# this only after it does nothing, and whatever was done is undone at it in any case, so a
# capture given up on leaves nothing behind on the page.
_PREPARE = """async (until) => {
  const doc = document, root = doc.documentElement, body = doc.body;
  if (!root || !body || Date.now() >= until) return null;
  if (doc.fonts) await doc.fonts.ready;
  if (Date.now() >= until) return null;
  const undo = [];
  const trees = [doc];
  for (let i = 0; i < trees.length; i++) {
    const walk = doc.createTreeWalker(trees[i], NodeFilter.SHOW_ELEMENT);
    for (let node = walk.currentNode; node; node = walk.nextNode()) {
      if (node.shadowRoot) trees.push(node.shadowRoot);
      if (node.matches && node.matches('input, textarea, [contenteditable]')) {
        const was = node.style.getPropertyValue('caret-color');
        const how = node.style.getPropertyPriority('caret-color');
        node.style.setProperty('caret-color', 'transparent', 'important');
        undo.push(() => node.style.setProperty('caret-color', was, how));
      }
    }
  }
  for (const anim of (doc.getAnimations ? doc.getAnimations() : [])) {
    if (!anim.effect || anim.playbackRate === 0) continue;
    try {
      if (Number.isFinite(anim.effect.getComputedTiming().endTime)) anim.finish();
      else { anim.cancel(); undo.push(() => anim.play()); }
    } catch (e) { /* an animation that refuses stays as it is */ }
  }
  const layer = doc.createElement('div');
  layer.style.cssText = 'position:absolute;left:0;top:0;width:0;height:0;margin:0;'
    + 'padding:0;border:0;overflow:visible;z-index:2147483647;pointer-events:none';
  root.appendChild(layer);
  undo.push(() => layer.remove());
  const undoAll = () => { while (undo.length) undo.pop()(); return true; };
  setTimeout(undoAll, Math.max(0, until - Date.now()));
  return {
    paint(boxes, colour) {
      for (const b of boxes) {
        const box = doc.createElement('div');
        box.style.cssText = `position:absolute;left:${b.x + window.scrollX}px;`
          + `top:${b.y + window.scrollY}px;width:${b.width}px;height:${b.height}px;`
          + `background:${colour}`;
        layer.appendChild(box);
      }
      return [
        Math.max(body.scrollWidth, root.scrollWidth, body.offsetWidth, root.offsetWidth,
                 body.clientWidth, root.clientWidth),
        Math.max(body.scrollHeight, root.scrollHeight, body.offsetHeight,
                 root.offsetHeight, body.clientHeight, root.clientHeight),
        window.innerWidth, window.innerHeight,
      ];
    },
    undo: undoAll,
  };
}"""


UNDO_MS = 5000
UNDO_QUICK_MS = 1000


class CaptureUnavailable(Exception):
    """This screenshot cannot be taken here: take Playwright's instead."""


@dataclass
class Shot:
    png: bytes
    height: int


@functools.cache
def supported() -> bool:
    """Whether this Playwright can give a protocol call a deadline (1.65 can)."""
    return "timeout" in inspect.signature(CDPSession.send).parameters


class _Deadline:
    def __init__(self, ms: int) -> None:
        self.end = time.monotonic() + ms / 1000
        self.epoch_ms = int(time.time() * 1000) + ms

    def left(self) -> int:
        ms = math.ceil((self.end - time.monotonic()) * 1000)
        if ms <= 0:
            raise CaptureUnavailable("out of time")
        return ms


def full_page_png(page: Page, session: CDPSession, masks: list[Locator], *, colour: str,
                  timeout_ms: int, max_width: int, max_height: int, fast: bool) -> Shot:
    """The whole page as PNG (cut at ``max_width`` × ``max_height``), secret fields masked;
    ``fast`` encodes it for speed rather than size.

    The masks' boxes come from Playwright (its selector engines, in its own script world,
    which the run's waits and clicks have set up on this page already).
    """
    deadline = _Deadline(timeout_ms)
    try:
        ready = session.send("Runtime.evaluate",
                             {"expression": f"({_PREPARE})({deadline.epoch_ms})",
                              "awaitPromise": True},
                             timeout=deadline.left())
    except PlaywrightError as err:
        raise CaptureUnavailable(f"page not ready: {str(err).splitlines()[0]}") from err
    if "exceptionDetails" in ready:
        raise CaptureUnavailable("the page refused to be prepared: "
                                 f"{ready['exceptionDetails'].get('text', '')}")
    state = ready.get("result", {}).get("objectId")
    if not state:
        raise CaptureUnavailable("the page has no document body yet")
    captured = False
    try:
        boxes = []
        if masks:
            every = masks[0]
            for mask in masks[1:]:
                every = every.or_(mask)  # one query for all of them
            for i in range(every.count()):
                box = every.nth(i).bounding_box(timeout=deadline.left())
                if box and box["width"] > 0 and box["height"] > 0:
                    boxes.append(box)
        width, height, view_w, view_h = _call(session, state, "paint", [boxes, colour],
                                              deadline.left())
        clip = {"x": 0, "y": 0, "width": min(width, max_width),
                "height": min(height, max_height), "scale": 1}
        shot = session.send("Page.captureScreenshot",
                            {"format": "png", "clip": clip, "optimizeForSpeed": fast,
                             "captureBeyondViewport": not (width <= view_w and height <= view_h)},
                            timeout=deadline.left())
        captured = True
    except PlaywrightError as err:
        raise CaptureUnavailable(str(err).splitlines()[0]) from err
    finally:
        _undo(session, state, quick=not captured)
    return Shot(base64.b64decode(shot["data"]), int(clip["height"]))


def _call(session: CDPSession, state: str, method: str, args: list[Any], timeout_ms: int) -> Any:
    """Call one of the prepared page's methods; its answer by value."""
    answer = session.send("Runtime.callFunctionOn", {
        "objectId": state, "returnByValue": True,
        "functionDeclaration": f"function (...args) {{ return this.{method}(...args); }}",
        "arguments": [{"value": a} for a in args]}, timeout=timeout_ms)
    if "exceptionDetails" in answer:
        raise CaptureUnavailable(f"{method} failed in the page: "
                                 f"{answer['exceptionDetails'].get('text', '')}")
    return answer["result"].get("value")


def _undo(session: CDPSession, state: str, *, quick: bool) -> None:
    """Put the page back as it was. After a capture that did not come back the page may
    not answer: the undo then gets a short deadline (the page undoes it all by itself at
    the caller's deadline anyway)."""
    try:
        _call(session, state, "undo", [], UNDO_QUICK_MS if quick else UNDO_MS)
        session.send("Runtime.releaseObject", {"objectId": state}, timeout=UNDO_QUICK_MS)
    except (PlaywrightError, CaptureUnavailable):
        pass
