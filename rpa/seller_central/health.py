"""The Account Health page: its overall status and each metric with value, target and status.

Two layouts are known from public code (selectors.yaml cites where): the classic
dashboard (``/performance/dashboard``: rows such as ``#shipping-late-shipment-rate-row``,
the value in the row's second column) and the newer ``.ahd-*`` page (program cards whose
metrics carry ``data-testid`` names, policy rows, statuses in ``kat-badge`` elements whose
words live in their ``label``). The newer page may show only its left menu at first: the
rows are waited for, not assumed.

A metric's parts are read by selectors.yaml first and, where those find nothing in the row,
by what a person reads in it (:mod:`.labels`): its name is the row's first words, its value
the figure beside the name, its target the text after "Target", its status the one status
word in the row. What is read that way is noted in :attr:`AccountHealth.read_by`; what
cannot be read is left empty with why (:attr:`Area.not_read`), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from rpa.browser.selectors import declare
from rpa.seller_central import beside, locale
from rpa.seller_central.language import session_language

if TYPE_CHECKING:
    from rpa.seller_central.pages import SellerCentral

SELECTOR_KEYS: tuple[str, ...] = (
    "health.heading",
    "health.metric_name",
    "health.metric_row",
    "health.metric_status",
    "health.metric_target",
    "health.metric_value",
    "health.overall",
)
declare(__name__, SELECTOR_KEYS)
# Elements of one key looked at in a row for a visible one.
MAX_CELLS = 4
LABEL = "label"


@dataclass
class Area:
    key: str
    name: str
    value: str
    target: str
    status: str
    # A part that could not be read (value, target, status): why. Empty when all were.
    not_read: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in self.__dict__.items() if k != "not_read"}
        if self.not_read:
            out["not_read"] = dict(self.not_read)
        return out


def text_of(loc: Locator) -> str:
    """An element's words as shown, line by line; a Katal badge, whose words are drawn in
    its shadow root, by its ``label``."""
    lines = [" ".join(line.split()) for line in loc.inner_text().splitlines()]
    text = "\n".join(line for line in lines if line)
    if not text:
        text = " ".join((loc.get_attribute("label") or "").split())
    return text


class AccountHealth:
    """The Account Health page of the run's session."""

    def __init__(self, sc: SellerCentral) -> None:
        self.sc = sc
        self.sel = sc.sel
        self.page = sc.page
        self.language = session_language(sc)
        # What was read by the words beside it rather than by selectors.yaml, as
        # "health.<metric name>.<part>" → "label": the selectors a reviewer should fix.
        self.read_by: dict[str, str] = {}
        self._ready = False

    def ready(self) -> None:
        """Wait until the page shows its metric rows (it may show only its menu at first);
        SelectorNotFound when it never does."""
        if not self._ready:
            self.sel.find(self.page, "health.metric_row")
            self._ready = True

    def overall(self) -> str | None:
        """The overall status as the page words it, or None when it shows none (the
        page's title is its only "Account Health" label: no words beside it to read)."""
        self.ready()
        text = self._cell(self.page, "health.overall")
        if not text:
            logger.info("Account Health's overall status not shown by health.overall")
        return text or None

    def areas(self) -> list[Area]:
        """Every metric row the page shows (waited for: the page may mount late), then
        each metric the page names whose row no selector found, as not read."""
        self.ready()
        rows = self.sel.any_of(self.page, "health.metric_row").all()
        out = [self._area(row) for row in rows]
        out += self.missed()
        logger.debug("account health shows {} metrics", len(out))
        return out

    def missed(self) -> list[Area]:
        """The metrics the page names (:data:`.locale.METRIC_NAMES`, whole texts) outside
        every row of ``health.metric_row``: rows its selectors miss, each an area whose
        parts are not read (never left out, never taken for Good)."""
        rows = self.sel.any_of(self.page, "health.metric_row")
        out = []
        for name in locale.labels_for(locale.METRIC_NAMES, self.language):
            try:
                if (not self.page.get_by_text(name, exact=True).filter(visible=True).count()
                        or rows.get_by_text(name, exact=True).count()):
                    continue
            except PlaywrightError:
                continue
            why = f"the page shows {name!r}, but no selector of health.metric_row finds its row"
            logger.warning("Account Health: {}", why)
            out.append(Area(key="", name=name, value="", target="", status="",
                            not_read={"row": why}))
        return out

    # --- one row -------------------------------------------------------------------------
    def area(self, row: Locator) -> Area:
        """One metric row read: by selectors.yaml, else by its words (noted in read_by)."""
        return self._area(row)

    def _area(self, row: Locator) -> Area:
        key = row.get_attribute("id") or row.get_attribute("data-testid") or ""
        area = Area(key=key, name="", value="", target="", status="")
        area.name = self._cell(row, "health.metric_name") or self._name_by_words(row, area)
        area.value = self._value(row, area)
        area.target = self._target(row, area)
        area.status = self._status(row, area)
        return area

    def _cell(self, scope: Locator | Page, key: str, *, last_line: bool = False) -> str:
        """The words of the first visible element of ``key`` in ``scope`` (a row, drawn
        whole once it shows: no waiting), or '' when it has none; its last line only with
        ``last_line`` (a newer card's value: a status glyph first, the rate last)."""
        loc = self.sel.any_of(scope, key)
        try:
            for i in range(min(loc.count(), MAX_CELLS)):
                if loc.nth(i).is_visible():
                    lines = text_of(loc.nth(i)).splitlines() or [""]
                    return lines[-1] if last_line else " ".join(lines)
        except PlaywrightError:
            pass
        return ""

    def _note(self, area: Area, part: str) -> None:
        self.read_by[f"health.{area.name or area.key}.{part}"] = LABEL

    def _name_by_words(self, row: Locator, area: Area) -> str:
        """A row's name as a person reads it: its first words."""
        try:
            toks = beside.tokens(row.aria_snapshot())
        except PlaywrightError:
            toks = []
        if not toks:
            area.not_read["name"] = "the row shows no words"
            return ""
        area.name = toks[0].text.strip()
        self._note(area, "name")
        return area.name

    def _value(self, row: Locator, area: Area) -> str:
        text = self._cell(row, "health.metric_value", last_line=True)
        if text:
            return text
        targets = locale.labels_for(locale.TARGET_LABELS, self.language)
        try:
            found = beside.find_beside(row, [area.name]) if area.name else []
            value = beside.text_beside(found, area.name, targets)
        except beside.NotBeside as err:
            area.not_read["value"] = f"no selector of health.metric_value in the row, and {err}"
            return ""
        self._note(area, "value")
        return value

    def _target(self, row: Locator, area: Area) -> str:
        targets = locale.labels_for(locale.TARGET_LABELS, self.language)
        text = self._cell(row, "health.metric_target")
        if text:
            rest = beside.label_rest(text, targets)
            return rest if rest is not None else text
        found = beside.find_beside(row, targets)
        values = list(dict.fromkeys(item.texts[0] for item in found if item.texts))
        if len(values) == 1:
            self._note(area, "target")
            return values[0]
        area.not_read["target"] = (
            "the row shows no target (no selector of health.metric_target, nor the word "
            f"{targets[0]!r} beside one)" if not values
            else f"{len(values)} targets in the row: {', '.join(values)}")
        return ""

    def _status(self, row: Locator, area: Area) -> str:
        text = self._cell(row, "health.metric_status")
        if text:
            return text
        words = beside.status_words_in(row, self.language)
        if len(words) == 1:
            self._note(area, "status")
            return words[0]
        area.not_read["status"] = ("the row shows no status word the bot knows" if not words
                                   else f"{len(words)} status words in the row: "
                                   f"{', '.join(words)}")
        return ""
