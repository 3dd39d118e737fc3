"""Scenario files: who the practice seller is and what their Seller Central shows.

A scenario is a YAML file in ``scenarios/`` (or any path). It is validated on load; any
problem is raised as :class:`ScenarioError` (a ``ValueError``) naming the file and the
offending key. The sign-in pages' variants are models of their own
(:mod:`rpa.practice.sandbox.signin_variants`).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rpa.practice.sandbox.signin_variants import SignInVariant

SCENARIO_DIR = Path(__file__).with_name("scenarios")

Layout = Literal["classic", "modern"]


class ScenarioError(ValueError):
    """A scenario that cannot be used: unknown, unreadable or invalid (file and key named)."""
# The language Seller Central is shown in (the marketplace's); the ids stay the same.
Locale = Literal["en", "de", "fr", "it", "es", "ja"]
MetricStatus = Literal["Good", "Fair", "Poor"]
ThreadStatus = Literal["response_needed", "responded", "no_response_needed"]

CUSTOMER_SERVICE = "Customer Service Performance"
POLICY = "Policy Compliance"
SHIPPING = "Shipping Performance"
SECTIONS = (CUSTOMER_SERVICE, POLICY, SHIPPING)

METRIC_SECTIONS: dict[str, str] = {
    "order_defect_rate": CUSTOMER_SERVICE,
    "contact_response_time": CUSTOMER_SERVICE,
    "policy_compliance": POLICY,
    "late_shipment_rate": SHIPPING,
    "pre_fulfillment_cancel_rate": SHIPPING,
    "valid_tracking_rate": SHIPPING,
    "on_time_delivery_rate": SHIPPING,
}

CLASSIC_WORDS: dict[str, str] = {"Good": "Good", "Fair": "Fair", "Poor": "Poor"}
MODERN_WORDS: dict[str, str] = {"Good": "Healthy", "Fair": "At Risk", "Poor": "Unhealthy"}
STOPLIGHT: dict[str, str] = {"Good": "green", "Fair": "yellow", "Poor": "red"}
RATING_RANGE: dict[str, tuple[int, int]] = {"Good": (200, 1000), "Fair": (100, 199),
                                            "Poor": (0, 99)}
DEFAULT_RATING: dict[str, int] = {"Good": 820, "Fair": 150, "Poor": 60}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Seller(_Strict):
    email: str = Field(min_length=3)
    password: str = Field(min_length=1)
    totp_secret: str = Field(min_length=16)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("not an email address")
        return value.strip()

    @field_validator("totp_secret")
    @classmethod
    def _base32(cls, value: str) -> str:
        cleaned = value.replace(" ", "").upper()
        try:
            base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
        except (binascii.Error, ValueError) as exc:
            raise ValueError("not a base32 secret") from exc
        return cleaned


class Marketplace(_Strict):
    name: str = Field(min_length=1)
    id: str = Field(min_length=1)


class Account(_Strict):
    name: str = Field(min_length=1)
    merchant_id: str = Field(min_length=1)
    marketplaces: list[Marketplace] = Field(min_length=1)


class Order(_Strict):
    order_id: str = Field(pattern=r"^\d{3}-\d{7}-\d{7}$")
    buyer: str
    item: str
    sku: str
    purchased: date
    ship_by: date


class Metric(_Strict):
    key: str
    name: str
    value: str
    target: str
    status: MetricStatus

    @field_validator("key")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in METRIC_SECTIONS:
            raise ValueError(f"unknown metric; expected one of {sorted(METRIC_SECTIONS)}")
        return value

    @property
    def section(self) -> str:
        return METRIC_SECTIONS[self.key]


# Home-page widgets a scenario can leave out (a page that loads without one of them).
Widget = Literal["orders", "seller_performance", "buyer_messages"]


class OpenOrders(_Strict):
    """The order figures beyond the listed unshipped orders, and how the modern card shows them.

    ``unshipped`` is the FBM Unshipped count when more orders wait than the scenario lists
    (Manage Orders shows the count and its first page of rows). The modern Open Orders card
    shows the total of all three; with ``breakdown`` it also lists each part.
    """

    unshipped: int | None = Field(default=None, ge=0)
    fbm_pending: int = Field(default=0, ge=0)
    fba_pending: int = Field(default=0, ge=0)
    breakdown: bool = False


class Message(_Strict):
    sender: Literal["buyer", "seller"] = Field(alias="from")
    text: str = Field(min_length=1)
    at: datetime


class Thread(_Strict):
    thread_id: str = Field(min_length=1)
    buyer: str
    order_id: str
    subject: str
    received: datetime
    status: ThreadStatus = "response_needed"
    messages: list[Message] = Field(min_length=1)


# --- The header's account switcher, the account picker and New Seller Central ------------
# Variants as public evidence shows them (see AccountPages); one block, kept apart.
HeaderKind = Literal["switcher", "partner", "select"]
PickerKind = Literal["current", "legacy"]
NgsKind = Literal["off", "redirect", "always"]


class ChoiceRef(_Strict):
    """An account, or one marketplace of it, by the names the scenario gives them."""

    account: str = Field(min_length=1)
    marketplace: str | None = Field(default=None, min_length=1)


class AccountPages(_Strict):
    """How the signed-in pages show the account, which picker is served, and NGS.

    ``header``: ``switcher`` (2022+: store and country in two spans inside ``#navbar``),
    ``partner`` (older: ``#partner-switcher``, one text "store | country") or ``select``
    (oldest: a ``<select>`` of the account's marketplace hosts, no account name); a header
    without any switcher is ``account_switcher: false``.
    ``picker``: ``current`` (account rows with the marketplaces nested under the opened one)
    or ``legacy`` (``#picker-container`` columns, also served at ``/global-picker``).
    ``expanded``: the account the current picker opens expanded (as from a market-switch
    address); clicking it closes it.
    ``last_used``: the choice the picker marks "(current)" while the session has chosen none
    (Seller Central remembers the last one across sign-ins).
    ``pending``: accounts or marketplaces shown "(pending registration)", never choosable.
    ``ngs``: New Seller Central: ``redirect`` sends ``/home`` to ``/amazonsell/business``
    unless the address carries ``ngs_do_not_redirect_flag=1``; ``always`` even then.
    """

    header: HeaderKind = "switcher"
    picker: PickerKind = "current"
    expanded: str | None = Field(default=None, min_length=1)
    last_used: ChoiceRef | None = None
    pending: list[ChoiceRef] = []
    ngs: NgsKind = "off"

    def check(self, accounts: list[Account]) -> None:
        """Every account and marketplace named here is one the scenario has."""
        markets = {a.name: {m.name for m in a.marketplaces} for a in accounts}
        refs = [*self.pending, *([self.last_used] if self.last_used else [])]
        if self.expanded is not None:
            refs.append(ChoiceRef(account=self.expanded))
        for ref in refs:
            if ref.account not in markets:
                raise ValueError(f"account_pages: no account {ref.account!r}")
            if ref.marketplace is not None and ref.marketplace not in markets[ref.account]:
                raise ValueError(f"account_pages: {ref.account!r} has no marketplace "
                                 f"{ref.marketplace!r}")
        if self.last_used is not None and self.last_used.marketplace is None:
            raise ValueError("account_pages.last_used: name the marketplace too")

    def is_pending(self, account: str, marketplace: str | None = None) -> bool:
        return any(p.account == account and p.marketplace == marketplace
                   for p in self.pending)


# --- Pages after sign-in as public evidence shows them: home and Account Health ----------
# (../shared/SELLER_CENTRAL_EVIDENCE.md §3, §4b). One block, ``after_signin:`` in a file.
HealthLayout = Literal["classic", "ahd"]
HomeIds = Literal["known", "unknown"]
MAX_FIRST_PAINT_MS = 25000


class AfterSignIn(_Strict):
    """How the pages after sign-in are drawn.

    ``health_layout``: Account Health as the classic dashboard (row ids such as
    ``#shipping-late-shipment-rate-row``) or the newer ``.ahd-*`` page (program cards,
    ``kat-badge`` statuses), whose content mounts ``health_late_ms`` after its left menu.
    ``home_ids``: ``unknown`` draws the home figures with ids and classes selectors.yaml does
    not know, each beside its label as a person reads it. ``ambiguous``: figures that page
    shows with two values beside one label. ``first_paint_ms``: the content of every page
    after sign-in mounts this late, by script (a single-page app's first paint).
    ``renamed``: ids (and ``data-test`` names) the pages after sign-in show under another
    name, old → new: a page Amazon changed (``{unshipped-count: unshipped-qty}``).
    """

    health_layout: HealthLayout = "classic"
    health_late_ms: int = Field(default=1200, ge=0, le=MAX_FIRST_PAINT_MS)
    home_ids: HomeIds = "known"
    ambiguous: list[Widget] = []
    first_paint_ms: int = Field(default=0, ge=0, le=MAX_FIRST_PAINT_MS)
    renamed: dict[str, str] = {}

    @field_validator("renamed")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for old, new in value.items():
            for name in (old, new):
                if not re.fullmatch(r"[A-Za-z][\w-]*", name):
                    raise ValueError(f"{name!r}: expected an id such as 'unshipped-count'")
        return value

    @model_validator(mode="after")
    def _ambiguous_needs_unknown_ids(self) -> AfterSignIn:
        if self.ambiguous and self.home_ids != "unknown":
            raise ValueError("ambiguous: shown only on the home page whose ids are unknown "
                             "(home_ids: unknown)")
        return self


# ---- Buyer-Seller Messaging: which inbox the sandbox serves and how it behaves ---------------
InboxGeneration = Literal["v3", "legacy"]


class MessagingVariant(_Strict):
    """The Buyer Messages pages of a scenario.

    ``v3`` is messaging v3 as public code shows it (the shared notes, section 4c): a
    single-page app at ``/messaging/inbox-v3`` drawn inside components with open shadow
    roots, a two-pane layout (thread list and the open thread), left-nav filters and a
    "Response needed N" card; Send and "No response needed" change the page without
    loading another. ``legacy`` is the older server-drawn inbox (``#threads-list``, about
    2018) with a thread page whose actions load the next page.
    """

    inbox: InboxGeneration = "v3"
    # v3: the list pane is drawn only in a window at least this wide (narrower: the
    # navigation alone); the open thread is drawn at any width.
    list_min_width: int = Field(default=1600, ge=0, le=10000)
    # v3: a messaging address opened directly (typed, bookmarked, a script's goto) before
    # the app was entered through a Seller Central link in this tab leaves the app
    # unmounted: only the navigation is drawn.
    cold_deep_link: bool = True
    # The words on the button that closes a thread without a reply ("No Response Required"
    # is the older help pages' wording).
    no_response_label: str = Field(default="No response needed", min_length=1, max_length=60)
    # v3: how long the app waits with its data before drawing it (a slow first paint).
    render_ms: int = Field(default=0, ge=0, le=25000)


class Scenario(_Strict):
    name: str = ""
    layout: Layout
    locale: Locale = "en"
    signin: SignInVariant = SignInVariant()
    seller: Seller
    accounts: list[Account] = Field(min_length=1)
    # Whether the header shows an account switcher at all (its kind: account_pages.header);
    # some single-account sellers' headers show none.
    account_switcher: bool = True
    unshipped_orders: list[Order] = []
    metrics: list[Metric] = Field(min_length=1)
    threads: list[Thread] = []
    account_health_rating: int | None = None
    open_orders: OpenOrders = Field(default_factory=OpenOrders)
    missing_widgets: list[Widget] = []
    # Words the home page shows for Seller Performance instead of the usual ones (a wording
    # the bot may not know); Account Health keeps the usual words.
    performance_label: str | None = Field(default=None, min_length=1)
    # Paths whose requests are never answered, every time (a page that never finishes
    # loading); ``*`` matches any part, as in the control API's ``hang`` fault. A held
    # request is let go when the sandbox is reset.
    never_loads: list[str] = []
    # The header's switcher, the picker and New Seller Central (AccountPages above).
    account_pages: AccountPages = Field(default_factory=AccountPages)
    # Home and Account Health drawn from the evidence, and the pages' first paint.
    after_signin: AfterSignIn = Field(default_factory=AfterSignIn)
    # Buyer-Seller Messaging's pages (see MessagingVariant).
    messaging: MessagingVariant = Field(default_factory=MessagingVariant)

    @field_validator("never_loads")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"{path!r}: expected a path starting with '/'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        listed = len(self.unshipped_orders)
        if self.open_orders.unshipped is not None and self.open_orders.unshipped < listed:
            raise ValueError(f"open_orders.unshipped must be at least the {listed} listed "
                             "unshipped_orders")
        keys = [m.key for m in self.metrics]
        if len(set(keys)) != len(keys):
            raise ValueError("metrics: each key may appear once")
        ids = [t.thread_id for t in self.threads]
        if len(set(ids)) != len(ids):
            raise ValueError("threads: each thread_id may appear once")
        if self.account_health_rating is not None:
            low, high = RATING_RANGE[self.overall]
            if not low <= self.account_health_rating <= high:
                raise ValueError(f"account_health_rating must be {low}-{high} for an overall "
                                 f"status of {self.overall}")
        return self

    @model_validator(mode="after")
    def _account_pages_known(self) -> Scenario:
        self.account_pages.check(self.accounts)
        return self

    @property
    def overall(self) -> MetricStatus:
        """Worst metric status: Poor beats Fair beats Good."""
        statuses = {m.status for m in self.metrics}
        if "Poor" in statuses:
            return "Poor"
        if "Fair" in statuses:
            return "Fair"
        return "Good"

    @property
    def overall_label(self) -> str:
        words = MODERN_WORDS if self.layout == "modern" else CLASSIC_WORDS
        return words[self.overall]

    @property
    def rating(self) -> int:
        if self.account_health_rating is not None:
            return self.account_health_rating
        return DEFAULT_RATING[self.overall]

    @property
    def unshipped_count(self) -> int:
        """FBM Unshipped: the listed orders, or ``open_orders.unshipped`` when given."""
        if self.open_orders.unshipped is not None:
            return self.open_orders.unshipped
        return len(self.unshipped_orders)

    @property
    def open_orders_total(self) -> int:
        """The Open Orders card's total: FBM Unshipped, FBM Pending and FBA Pending."""
        return (self.unshipped_count + self.open_orders.fbm_pending
                + self.open_orders.fba_pending)

    @property
    def choices(self) -> list[tuple[Account, Marketplace]]:
        return [(a, m) for a in self.accounts for m in a.marketplaces]

    def failing_metrics(self) -> list[Metric]:
        return [m for m in self.metrics if m.status != "Good"]


def list_scenarios() -> list[str]:
    """Names of the bundled scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix in (".yaml", ".yml") or "/" in text or "\\" in text:
        return candidate
    bundled = SCENARIO_DIR / f"{text}.yaml"
    if not bundled.is_file():
        raise ScenarioError(f"unknown scenario {text!r}; bundled: {', '.join(list_scenarios())}")
    return bundled


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _load_yaml(text: str) -> Any:
    """libyaml's parser when there is one (a busy scenario in 4 ms, not 40); a document it
    refuses is parsed again by the pure-Python one, whose error shows a caret."""
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return yaml.safe_load(text)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and validate a bundled scenario by name, or a scenario file by path."""
    path = scenario_path(name_or_path)
    try:
        raw = _load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: (top level): expected a mapping of keys")
    raw.setdefault("name", path.stem)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ScenarioError(f"{path}: {problems}") from None
