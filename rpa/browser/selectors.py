"""selectors.yaml: every locator the flows use, by namespaced key, with ordered candidates.

A key such as ``signin.email`` maps to a list of candidates, user-facing first::

    signin:
      email:
        - label: Email or mobile phone number
        - css: "#ap_email"

Strategies: ``role`` (with optional ``name`` and ``exact``), ``label``, ``text``,
``placeholder``, ``title``, ``test_id``, ``css``, and ``url``: a regular expression searched
in the path of the page's address (``url: "^/ap/cvf/"``), which resolves to the whole
document when it matches and to nothing otherwise, so a page can be told by its address as
data. A string written ``/…/`` (optionally ``/…/i``) is a regular expression. ``{name}``
placeholders are filled from the caller's parameters. The first candidate that resolves
wins, and which one won is logged. Layout variants are simply more candidates under the
same key.

Only visible elements count: real pages carry hidden inputs that match the candidates of
other pages (a hidden ``#ap_email`` above the password field), so every wait and check
asks for any visible match, never for the first match in document order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from rpa.config import load_yaml
from rpa.errors import ConfigError, SelectorNotFound

STRATEGIES = {"role", "label", "text", "placeholder", "title", "test_id", "css", "url"}
OPTIONS = {"name", "exact"}
ROLES = {
    "alert", "button", "checkbox", "combobox", "dialog", "heading", "link", "listitem",
    "main", "navigation", "radio", "row", "cell", "tab", "table", "textbox", "img", "status",
    "region", "option", "menuitem", "form",
}
Scope = Page | Locator
# The keys each loaded module asks for (module -> keys, whether only checking needs them).
_DECLARED: dict[str, tuple[tuple[str, ...], bool]] = {}


def default_selectors_file() -> Path:
    """selectors.yaml at the top of the project."""
    return Path(__file__).resolve().parents[2] / "selectors.yaml"


def url_matches(pattern: str, url: str) -> bool:
    """Whether the regular expression ``pattern`` is found in the path of ``url``."""
    return re.search(pattern, urlparse(url).path) is not None


def _pattern(value: str) -> str | re.Pattern[str]:
    m = re.fullmatch(r"/(.+)/(i?)", value, flags=re.S)
    if not m:
        return value
    return re.compile(m.group(1), re.I if m.group(2) else 0)


@dataclass(frozen=True)
class Candidate:
    strategy: str
    value: str
    name: str | None = None
    exact: bool | None = None
    # From the local overlay (selectors.local.yaml, rpa.browser.overlay): tried first.
    local: bool = field(default=False, compare=False)

    def describe(self) -> str:
        extra = f" name={self.name!r}" if self.name else ""
        return f"{self.strategy}={self.value!r}{extra}{' (local)' if self.local else ''}"

    def as_data(self) -> dict[str, Any]:
        """The candidate as selectors.yaml writes it (``{css: '#id'}``)."""
        out: dict[str, Any] = {self.strategy: self.value}
        if self.name is not None:
            out["name"] = self.name
        if self.exact is not None:
            out["exact"] = self.exact
        return out

    def build(self, scope: Scope, params: dict[str, Any]) -> Locator:
        value = self.value.format(**params) if params else self.value
        name = self.name.format(**params) if (self.name and params) else self.name
        exact = self.exact
        if self.strategy == "css":
            return scope.locator(value)
        if self.strategy == "url":
            # Decided when the locator is built: callers build after a navigation settles.
            page = scope if isinstance(scope, Page) else scope.page
            return page.locator("html" if url_matches(value, page.url) else "html:not(html)")
        if self.strategy == "role":
            kwargs: dict[str, Any] = {}
            if name is not None:
                kwargs["name"] = _pattern(name)
            if exact is not None:
                kwargs["exact"] = exact
            return scope.get_by_role(value, **kwargs)  # type: ignore[arg-type]
        text = _pattern(value)
        getter = {
            "label": scope.get_by_label,
            "text": scope.get_by_text,
            "placeholder": scope.get_by_placeholder,
            "title": scope.get_by_title,
        }.get(self.strategy)
        if getter is not None:
            return getter(text, exact=exact) if exact is not None else getter(text)
        return scope.get_by_test_id(value)


@dataclass
class Selectors:
    """Validated selectors, looked up by key."""

    keys: dict[str, list[Candidate]]
    source: str = ""
    timeout_ms: int = 15000
    won: dict[str, str] = field(default_factory=dict)
    # The local overlay's keys (rpa.browser.overlay.Entry by key) and its file, and the
    # shipped file's candidates before the overlay's were put first.
    local: dict[str, Any] = field(default_factory=dict)
    local_source: str = ""
    shipped: dict[str, list[Candidate]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None, timeout_ms: int = 15000) -> Selectors:
        """Load and validate; any bad entry is a ConfigError naming the file and key."""
        file = Path(path) if path else default_selectors_file()
        if not file.is_file():
            raise ConfigError("selectors file not found", file=str(file))
        try:
            data = load_yaml(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ConfigError(f"not valid YAML: {err}", file=str(file)) from err
        keys = parse_selectors(data, str(file))
        return cls(keys, str(file), timeout_ms, shipped=dict(keys))

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def require(self, needed: dict[str, tuple[str, ...]]) -> None:
        """Refuse the file when a key the code asks for is missing: one ConfigError naming
        every missing key and the module that uses it, before any browser starts."""
        missing = sorted(key for key in needed if key not in self.keys)
        if missing:
            listed = "; ".join(f"{key} (used by {', '.join(needed[key])})" for key in missing)
            raise ConfigError(f"{len(missing)} key{'s' if len(missing) > 1 else ''} the code "
                              f"uses {'are' if len(missing) > 1 else 'is'} missing: {listed}",
                              file=self.source)

    def _cands(self, key: str) -> list[Candidate]:
        try:
            return self.keys[key]
        except KeyError:
            raise ConfigError("unknown selector key used by the code", file=self.source,
                              key=key) from None

    def candidates(self, scope: Scope, key: str, **params: Any) -> list[Locator]:
        return [c.build(scope, params) for c in self._cands(key)]

    def any_of(self, scope: Scope, key: str, **params: Any) -> Locator:
        """One locator matching any candidate, hidden or not (for masks and counts)."""
        locs = self.candidates(scope, key, **params)
        combined = locs[0]
        for loc in locs[1:]:
            combined = combined.or_(loc)
        return combined

    def visible(self, scope: Scope, key: str, **params: Any) -> Locator:
        """The visible elements any candidate of ``key`` matches, in document order."""
        return self.any_of(scope, key, **params).filter(visible=True)

    def find(self, scope: Scope, key: str, *, timeout_ms: int | None = None,
             state: str = "visible", **params: Any) -> Locator:
        """Wait until a candidate for ``key`` is there; return the first candidate that is."""
        cands = self._cands(key)
        locs = [c.build(scope, params) for c in cands]
        wait = self.timeout_ms if timeout_ms is None else timeout_ms
        if state == "visible":  # a hidden match of any candidate must not hide a shown one
            locs = [loc.filter(visible=True) for loc in locs]
        combined = locs[0]
        for loc in locs[1:]:
            combined = combined.or_(loc)
        try:
            combined.first.wait_for(state=state, timeout=wait)  # type: ignore[arg-type]
        except PlaywrightTimeout as err:
            raise SelectorNotFound(key, _url(scope), len(cands)) from err
        except PlaywrightError as err:
            raise SelectorNotFound(key, _url(scope), len(cands)) from err
        for cand, loc in zip(cands, locs, strict=False):
            try:
                if loc.count():
                    self._note(key, cand)
                    return loc.first
            except PlaywrightError:
                continue
        raise SelectorNotFound(key, _url(scope), len(cands))

    def wait(self, scope: Scope, key: str, *, timeout_ms: int | None = None,
             **params: Any) -> Locator:
        """Wait until any candidate of ``key`` is visible; one round trip, no candidate noted."""
        loc = self.visible(scope, key, **params).first
        try:
            loc.wait_for(state="visible",
                         timeout=self.timeout_ms if timeout_ms is None else timeout_ms)
        except PlaywrightError as err:
            raise SelectorNotFound(key, _url(scope), len(self._cands(key))) from err
        return loc

    def fill(self, scope: Scope, key: str, text: str, *, timeout_ms: int | None = None,
             **params: Any) -> Locator:
        """Type ``text`` into the first visible match of ``key`` once it can take it: one
        round trip (Playwright waits for it to show); SelectorNotFound when it never does."""
        loc = self.visible(scope, key, **params).first
        try:
            loc.fill(text, timeout=self.timeout_ms if timeout_ms is None else timeout_ms)
        except PlaywrightTimeout as err:
            raise SelectorNotFound(key, _url(scope), len(self._cands(key))) from err
        return loc

    def click(self, scope: Scope, key: str, *, timeout_ms: int | None = None,
              **params: Any) -> None:
        """Click the first visible match of ``key`` once it can be clicked: one round trip
        (Playwright waits for it to show); SelectorNotFound when it never does."""
        loc = self.visible(scope, key, **params).first
        try:
            loc.click(timeout=self.timeout_ms if timeout_ms is None else timeout_ms)
        except PlaywrightTimeout as err:
            raise SelectorNotFound(key, _url(scope), len(self._cands(key))) from err

    def present_any(self, scope: Scope, keys: tuple[str, ...] | list[str]) -> bool:
        """Whether any candidate of any of ``keys`` is visible right now (one round trip)."""
        combined: Locator | None = None
        for key in keys:
            loc = self.any_of(scope, key)
            combined = loc if combined is None else combined.or_(loc)
        if combined is None:
            return False
        try:
            return combined.filter(visible=True).first.is_visible()
        except PlaywrightError:
            return False

    def present(self, scope: Scope, key: str, **params: Any) -> bool:
        """Whether some candidate for ``key`` is visible right now (no waiting)."""
        try:
            return self.visible(scope, key, **params).first.is_visible()
        except PlaywrightError:
            return False

    def texts(self, scope: Scope, key: str, **params: Any) -> list[str]:
        """The text of every element any candidate of ``key`` matches now (no waiting)."""
        try:
            return self.any_of(scope, key, **params).all_inner_texts()
        except PlaywrightError:
            return []

    def which(self, scope: Scope, keys: list[str], *, timeout_ms: int | None = None) -> str:
        """Wait until one of several keys is visible; return the first key (in order) that is.

        Used to tell which page the browser is on without guessing from URLs. The wait is for
        any visible match of any key: a hidden element matching an earlier candidate (a
        hidden ``name=email`` input above the password field) never decides the page.
        """
        combined: Locator | None = None
        for key in keys:
            loc = self.any_of(scope, key)
            combined = loc if combined is None else combined.or_(loc)
        assert combined is not None
        wait = self.timeout_ms if timeout_ms is None else timeout_ms
        try:
            combined.filter(visible=True).first.wait_for(state="visible", timeout=wait)
        except PlaywrightTimeout as err:
            raise SelectorNotFound(" | ".join(keys), _url(scope), len(keys)) from err
        for key in keys:  # one round trip per key, in order of precedence
            if self.present(scope, key):
                return key
        raise SelectorNotFound(" | ".join(keys), _url(scope), len(keys))

    def plain(self, key: str) -> list[str] | None:
        """The candidates of ``key`` as selectors the page itself can resolve (``css``, and
        ``xpath=…`` inside one), for reading many keys in one evaluate call; None when one
        needs Playwright's own engines (role, label, text, url, placeholders)."""
        out = []
        for cand in self._cands(key):
            if cand.strategy != "css" or "{" in cand.value:
                return None
            out.append(cand.value)
        return out

    def check(self, scope: Scope, key: str) -> str | None:
        """Which candidate of ``key`` resolves on the current page right now, if any."""
        for cand in self._cands(key):
            try:
                loc = cand.build(scope, {})
                if loc.count():
                    return cand.describe()
            except (PlaywrightError, KeyError, IndexError):
                continue
        return None

    def _note(self, key: str, cand: Candidate) -> None:
        desc = cand.describe()
        if self.won.get(key) != desc:
            logger.debug("selector {} resolved by {}", key, desc)
            self.won[key] = desc


def _url(scope: Scope) -> str:
    try:
        page = scope if isinstance(scope, Page) else scope.page
        return page.url
    except PlaywrightError:
        return ""


def parse_selectors(data: Any, source: str) -> dict[str, list[Candidate]]:
    """Flatten the nested mapping into ``ns.key`` → candidates, validating every entry."""
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of page namespaces", file=source)
    out: dict[str, list[Candidate]] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, list):
            out[prefix] = [parse_candidate(item, source, f"{prefix}[{i}]")
                           for i, item in enumerate(node)]
            if not out[prefix]:
                raise ConfigError("needs at least one candidate", file=source, key=prefix)
            return
        if not isinstance(node, dict) or not node:
            raise ConfigError("expected a list of candidates or a mapping of keys",
                              file=source, key=prefix or "<top>")
        for k, v in node.items():
            if not isinstance(k, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", k):
                raise ConfigError("keys are lower_snake_case names", file=source,
                                  key=f"{prefix}.{k}" if prefix else str(k))
            walk(v, f"{prefix}.{k}" if prefix else k)

    walk(data, "")
    return out


def parse_candidate(item: Any, source: str, key: str) -> Candidate:
    """One candidate as selectors.yaml writes it, checked; ConfigError naming ``key``."""
    if not isinstance(item, dict):
        raise ConfigError("a candidate is a mapping such as {css: '#id'}", file=source, key=key)
    strategies = [k for k in item if k in STRATEGIES]
    unknown = [k for k in item if k not in STRATEGIES | OPTIONS]
    if unknown:
        raise ConfigError(f"unknown strategy or option {unknown[0]!r} (expected one of "
                          f"{', '.join(sorted(STRATEGIES))})", file=source, key=key)
    if len(strategies) != 1:
        raise ConfigError("exactly one strategy per candidate", file=source, key=key)
    strategy = strategies[0]
    value = item[strategy]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{strategy} needs a non-empty string", file=source, key=key)
    if strategy == "role" and value not in ROLES:
        raise ConfigError(f"unknown ARIA role {value!r}", file=source, key=key)
    name = item.get("name")
    if name is not None and (strategy != "role" or not isinstance(name, str)):
        raise ConfigError("'name' goes with 'role' and is a string", file=source, key=key)
    exact = item.get("exact")
    if exact is not None and not isinstance(exact, bool):
        raise ConfigError("'exact' is true or false", file=source, key=key)
    if strategy == "url":
        if exact is not None:
            raise ConfigError("'exact' does not go with 'url'", file=source, key=key)
        try:
            re.compile(value)
        except re.error as err:
            raise ConfigError(f"bad regular expression for url: {err}", file=source,
                              key=key) from err
        return Candidate(strategy, value)
    for text in (value, name):
        if text and text.startswith("/"):
            try:
                _pattern(text)
                if isinstance(_pattern(text), str):
                    raise ConfigError("a regular expression is written /.../ or /.../i",
                                      file=source, key=key)
            except re.error as err:
                raise ConfigError(f"bad regular expression: {err}", file=source,
                                  key=key) from err
    return Candidate(strategy, value, name, exact)


def declare(module: str, keys: tuple[str, ...], *, check_only: bool = False) -> None:
    """Record the selectors.yaml keys ``module`` asks for; a module declares its own when it
    loads, so a file without one of them is refused before any browser starts.

    ``check_only``: keys only checking the file (``rpa selectors check``) names itself.
    """
    _DECLARED[module] = (tuple(keys), check_only)


def declared_keys(*, with_check: bool = False) -> dict[str, tuple[str, ...]]:
    """Every key the modules loaded so far declare, with the modules declaring it (by
    their last name). The flows load the page objects they use: ask once they are loaded.

    ``with_check`` adds the keys ``rpa selectors check`` names itself.
    """
    out: dict[str, tuple[str, ...]] = {}
    for module in sorted(_DECLARED, key=lambda m: m.rpartition(".")[2]):
        keys, check_only = _DECLARED[module]
        if check_only and not with_check:
            continue
        for key in keys:
            out[key] = (*out.get(key, ()), module.rpartition(".")[2])
    return out
