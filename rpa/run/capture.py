"""Full-page screenshots encoded for speed, through Chromium's DevTools protocol.

Playwright asks Chromium for its smallest PNG; on a small machine that encoding is most of
what a screenshot costs. Chromium can encode the same pixels in about half the time (the
file is about a quarter bigger). ``full_page_png`` takes such a screenshot the way
``page.screenshot`` would: fonts loaded, carets hidden, CSS animations and transitions at
their end (endless ones stopped, then restarted), secret fields painted over, the page as
wide and as long as its document up to the caller's limits. Every wait on the page is under
the caller's deadline; when the page does not answer in time, or this Playwright cannot
give a protocol call a deadline, it raises ``CaptureUnavailable`` and the caller takes
Playwright's screenshot instead.
"""

from __future__ import annotations

import base64
import inspect
import math
import time
from dataclasses import dataclass

from playwright.sync_api import CDPSession, JSHandle, Locator, Page
from playwright.sync_api import Error as PlaywrightError

# Runs in the page until it can say how big the document is: then hides carets, settles
# animations, adds an empty layer for the masks, and hands back what undoes all of it.
_PREPARE = """() => {
  const doc = document, root = doc.documentElement, body = doc.body;
  if (!root || !body) return null;
  if (doc.fonts && doc.fonts.status !== 'loaded') return null;
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
  return {
    paint(boxes, colour) {
      for (const [x, y, w, h] of boxes) {
        const box = doc.createElement('div');
        box.style.cssText = `position:absolute;left:${x}px;top:${y}px;width:${w}px;`
          + `height:${h}px;background:${colour}`;
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
    undo() { while (undo.length) undo.pop()(); return true; },
  };
}"""

# Where each matched element is, in the document's coordinates.
_BOXES = """(elements) => elements.map((el) => {
  const r = el.getBoundingClientRect();
  return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];
}).filter(([, , w, h]) => w > 0 && h > 0)"""


class CaptureUnavailable(Exception):
    """This screenshot cannot be taken here: take Playwright's instead."""


@dataclass
class Shot:
    png: bytes
    height: int


def supported() -> bool:
    """Whether this Playwright can give a protocol call a deadline (1.65 and later)."""
    return "timeout" in inspect.signature(CDPSession.send).parameters


class _Deadline:
    def __init__(self, ms: int) -> None:
        self.end = time.monotonic() + ms / 1000

    def left(self) -> int:
        ms = math.ceil((self.end - time.monotonic()) * 1000)
        if ms <= 0:
            raise CaptureUnavailable("out of time")
        return ms


def full_page_png(page: Page, session: CDPSession, masks: list[Locator], *, colour: str,
                  timeout_ms: int, max_width: int, max_height: int) -> Shot:
    """The whole page as PNG (cut at ``max_width`` × ``max_height``), secret fields masked."""
    deadline = _Deadline(timeout_ms)
    try:
        state = page.wait_for_function(_PREPARE, timeout=deadline.left())
    except PlaywrightError as err:
        raise CaptureUnavailable(f"page not ready: {str(err).splitlines()[0]}") from err
    captured = False
    try:
        boxes: list[list[float]] = []
        for mask in masks:
            boxes += mask.evaluate_all(_BOXES)
        deadline.left()
        width, height, view_w, view_h = state.evaluate("(s, a) => s.paint(a[0], a[1])",
                                                       [boxes, colour])
        clip = {"x": 0, "y": 0, "width": min(width, max_width),
                "height": min(height, max_height), "scale": 1}
        fits = width <= view_w and height <= view_h
        shot = session.send("Page.captureScreenshot",
                            {"format": "png", "clip": clip, "optimizeForSpeed": True,
                             "captureBeyondViewport": not fits},
                            timeout=deadline.left())
        captured = True
    except PlaywrightError as err:
        raise CaptureUnavailable(str(err).splitlines()[0]) from err
    finally:
        _undo(page, state, quick=not captured)
    return Shot(base64.b64decode(shot["data"]), int(clip["height"]))


def _undo(page: Page, state: JSHandle, *, quick: bool) -> None:
    """Put the page back as it was. After a capture that did not come back the page may
    not answer: the undo then gets a short deadline of its own and may be left."""
    try:
        if quick:
            page.wait_for_function("s => s.undo()", arg=state, timeout=1000)
        else:
            state.evaluate("s => s.undo()")
        state.dispose()
    except PlaywrightError:
        pass
