"""``rpa teach KEY``: a person points at the element a selectors.yaml key should find, in
a visible browser signed in to the account; the candidates that find exactly that element
are proposed for the local overlay (rpa.browser.overlay).

:func:`page_of` says where a key is shown (the pages ``rpa selectors check --live``
opens; a sign-in page's keys need an address given). :class:`Teaching` opens the page,
marks what the key's candidates find now (or says they find nothing), waits for the click
(rpa.browser.pointing: the page acts on nothing meanwhile), derives the candidates and
checks each in the key's scope (the page, or the row a key is read in; a row key's
candidates may find the other rows of its list too, none else), and returns a
:class:`Proposal`: the candidates kept, those refused with why, and the element's
accessibility snapshot as an excerpt scrubbed of buyer data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from rpa.browser import pagesnap, pointing
from rpa.browser.pointing import Pointer
from rpa.browser.selectors import Candidate, Scope
from rpa.errors import ConfigError, PageError
from rpa.seller_central.messages import THREAD_PATH
from rpa.seller_central.pages import SellerCentral
from rpa.seller_central.selectcheck import PAGES, ROW_OF, first_thread_id

# Keys naming the rows of a list (other keys are read inside them).
ROW_KEYS = frozenset(ROW_OF.values())
# Lines of the element's snapshot kept as its excerpt.
EXCERPT_LINES = 12
FOUND, PICKED = "#e47911", "#067d62"  # orange: found now; green: clicked


def page_of(key: str) -> str | None:
    """The path of the page showing ``key`` (a thread's keys: the thread page), or None
    for the keys of pages shown only while signing in."""
    return PAGES.get(key.split(".", 1)[0])


@dataclass
class Proposal:
    """What teaching a key found: where, the element, the candidates kept and refused."""

    key: str
    page: str
    element: str
    kept: list[Candidate] = field(default_factory=list)
    refused: list[tuple[Candidate, str]] = field(default_factory=list)
    found_now: list[tuple[str, int]] = field(default_factory=list)
    # Kept candidates that find the other rows of the list too (a row key's).
    rows_too: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "page": self.page, "element": self.element,
                "kept": [c.describe() for c in self.kept],
                "refused": [[c.describe(), why] for c, why in self.refused],
                "found_before": [[d, n] for d, n in self.found_now]}


class Teaching:
    """Teaching one key on the run's signed-in page."""

    def __init__(self, sc: SellerCentral, key: str, private: dict[str, str]) -> None:
        if key not in sc.sel:
            raise ConfigError(f"unknown selector key {key!r}", file=sc.sel.source)
        self.sc = sc
        self.sel = sc.sel
        self.key = key
        self.private = private
        self.path = ""

    @property
    def page(self) -> Page:
        return self.sc.page

    def open(self, address: str | None) -> str:
        """Open the key's page (``address``, a path or a whole address, when given);
        its path."""
        target = address or page_of(self.key)
        if target is None:
            raise ConfigError(f"{self.key} shows only while signing in: give its page's "
                              "address with --page", key=self.key)
        if target.startswith(self.sc.base + "/"):
            target = target[len(self.sc.base):]
        if target.startswith(("http://", "https://")):  # another host's page (signing in)
            try:
                self.page.goto(target, wait_until="domcontentloaded")
            except PlaywrightError as err:
                raise PageError(f"could not load {target}: {str(err).splitlines()[0]}") from err
        elif target == THREAD_PATH:
            self.sc.open(PAGES["inbox"])
            thread = first_thread_id(self.sc)
            if not thread:
                raise PageError("the inbox lists no thread to teach a thread's key on")
            self.sc.open(THREAD_PATH.format(thread_id=thread))
        else:
            self.sc.open(target)
        self.path = urlparse(self.page.url).path or "/"
        return self.path

    def _scope(self) -> Scope:
        """Where the key's candidates are looked for: the page, or every row of the key
        it is read in."""
        row = ROW_OF.get(self.key)
        return self.sel.any_of(self.page, row) if row else self.page

    def show(self, pointer: Pointer) -> list[tuple[str, int]]:
        """Mark what each candidate of the key finds now; (candidate, how many) each."""
        found = []
        for cand in self.sel.keys[self.key]:
            try:
                loc = cand.build(self._scope(), {})
                found.append((cand.describe(), pointer.mark(loc, FOUND) if loc.count() else 0))
            except PlaywrightError:
                found.append((cand.describe(), 0))
        finding = [f"{d} finds {n}" for d, n in found if n]
        pointer.say(f"{self.key}: " + ("; ".join(finding) + " (boxed in orange)" if finding
                                        else "its candidates find nothing on this page")
                    + f".\nClick the element {self.key} should find.")
        return found

    def propose(self, pointer: Pointer, picked: pointing.Picked, element: Locator,
                found_now: list[tuple[str, int]]) -> Proposal:
        """The candidates derived from the element clicked, each checked to find exactly
        it in the key's scope."""
        pointer.clear()
        pointer.mark(element, PICKED)
        private = self.key in self.private
        values = self._private_values()
        proposal = Proposal(self.key, self.path, self._excerpt(element, private, values),
                            found_now=found_now)
        scope = self._row_of(element)
        hollow = self._holds_no_part(element)
        listed = self.key in ROW_KEYS
        kind = f"{picked.anchor} {picked.tag}{picked.classes}"
        for cand in pointing.derive(picked, element, words=not private, listed=listed):
            said = " ".join(x for x in (cand.value, cand.name or "") if x)
            if pagesnap.scrub_text(said, values) != said:  # shown with placeholders
                cand = replace(cand, value=pagesnap.scrub_text(cand.value, values),
                               name=pagesnap.scrub_text(cand.name, values) if cand.name
                               else None)
                why = ("made of buyer data (a name, an order id, a message): it would find "
                       "only this buyer's")
            elif scope is None:
                why = f"not inside a row of {ROW_OF[self.key]} (teach that key first)"
            else:
                why = hollow or pointing.verify(cand, scope, alike=listed and cand.value == kind)
            if why:
                proposal.refused.append((cand, why))
            else:
                proposal.kept.append(cand)
                if listed and cand.value == kind:
                    proposal.rows_too.append(cand.describe())
        pointer.say(f"{self.key}: the element clicked (boxed in green) is found by "
                    + (", ".join(c.describe() for c in proposal.kept) or "no candidate")
                    + ".\nAnswer in the terminal.")
        return proposal

    def _row_of(self, element: Locator) -> Scope | None:
        """The key's scope holding the element: the page, or the one row of the key's
        row key that holds it (None when no row does)."""
        row_key = ROW_OF.get(self.key)
        if row_key is None:
            return self.page
        rows = self.sel.any_of(self.page, row_key)
        for i in range(rows.count()):
            if rows.nth(i).locator(f"[{pointing.PICKED}]").count():
                return rows.nth(i)
        return None

    def _private_values(self) -> list[tuple[str, str]]:
        """The buyer data the page shows (the private keys' elements, and those whose ids
        or classes say they hold a name, an address or a message), with placeholders."""
        return pagesnap.private_texts(self.page, self.sel, self.private)

    def _holds_no_part(self, element: Locator) -> str:
        """For a key other keys are read inside (a row): why the element is not one, or
        ''. A row holds the parts the rows found now hold (at least one part when none is
        found): a word or a column of the row clicked holds fewer."""
        parts = sorted(k for k, row in ROW_OF.items() if row == self.key and k in self.sel)
        if not parts:
            return ""
        rows = self.sel.any_of(self.page, self.key)
        held = self._parts_in(element, parts)
        others = [self._parts_in(rows.nth(i), parts) for i in range(min(rows.count(), 3))]
        wanted = set.union(*others) if others else set()
        if (wanted and wanted <= held) or (not wanted and held):
            return ""
        return (f"a row holds {', '.join(sorted(wanted) or ['one of ' + ', '.join(parts)])}; "
                f"the element holds {', '.join(sorted(held)) or 'none of them'}: take the "
                "element around it")

    def _parts_in(self, scope: Locator, parts: list[str]) -> set[str]:
        found = set()
        for part in parts:
            try:
                if self.sel.any_of(scope, part).count():
                    found.add(part)
            except PlaywrightError:
                continue
        return found

    def _excerpt(self, element: Locator, private: bool,
                 values: list[tuple[str, str]]) -> str:
        """The element's accessibility snapshot, its first lines, scrubbed of buyer data
        (for a key whose elements hold it, its text is a placeholder)."""
        try:
            text = element.aria_snapshot(timeout=5000)
        except PlaywrightError:
            return ""
        if private:
            values = [*values, (element.inner_text(), self.private[self.key])]
        lines = pagesnap.scrub_text(text, values).splitlines()
        more = [f"# … {len(lines) - EXCERPT_LINES} more lines"] if len(lines) > EXCERPT_LINES \
            else []
        return "\n".join(lines[:EXCERPT_LINES] + more)
