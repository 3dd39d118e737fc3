"""Whether the run works in the configured account and marketplace: the verdict from what is seen.

Seller Central shows the account it works in in several ways, none of them on every page or
in every generation (sources U5, U11, U22, U23 of the evidence study). Each way is a source
here, and any of them may be missing:

- ``header``: the header's account switcher. The 2022+ header shows the store and the
  country in two spans; the older ``#partner-switcher`` one text ("Acme Goods | United
  States"; "name - country" and "name country" are accepted too, U22-c); the oldest a
  ``<select>`` of marketplace hosts ("www.amazon.es"), which names no account.
- ``picker``: this run's choice on "Select an account", read back before confirming.
- ``url``: the marketplace id in the address after a switch (``mons_sel_mkid``, U5, S6),
  compared through :mod:`.marketplaces`.
- ``saved sign-in``: the choice read back on the picker by the run that saved the browser
  state this run signed in with (:mod:`.saved_choice`); offered only when this run typed no
  password, and only when it names the configured account and marketplace.

The verdict: any source showing another account or marketplace is ``wrong_account``. Else
every configured part (account name, marketplace) confirmed by some source is a
confirmation; else ``account_unconfirmed``. Names are compared after the page's markers are
stripped (:mod:`.labels`), exactly.

``confirmed_by`` says how, for run.json: the first of header, picker and url that confirmed
the account name (the marketplace when no account name is configured), or ``none`` when none
of them did (the saved sign-in's earlier read-back stood in, or nothing was configured).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rpa.seller_central.labels import same_name, strip_markers

HEADER, PICKER, URL, SAVED = "header", "picker", "url", "saved sign-in"
PAGE_SOURCES = (HEADER, PICKER, URL)
ACCOUNT, MARKETPLACE = "account", "marketplace"


@dataclass(frozen=True)
class Seen:
    """What one source shows: the account and the marketplace (None: this source does not
    say), and the words it shows them in, for messages and step names."""

    source: str
    account: str | None = None
    marketplace: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Verdict:
    """The account check's outcome. ``reason`` is None when confirmed."""

    reason: str | None
    message: str
    confirmed_by: str
    # Which source confirmed each configured part (None: none did).
    parts: dict[str, str | None] = field(default_factory=dict)
    # The source that showed another account or marketplace, when one did.
    contradicted_by: Seen | None = None


def expected_label(account: str | None, marketplace: str | None) -> str:
    """The configured account and marketplace, as messages name them."""
    return " / ".join(part for part in (account, marketplace) if part)


def parse_header_text(text: str, account: str | None,
                      marketplace: str | None) -> tuple[str | None, str | None] | None:
    """The account and marketplace in a header that shows them as one text, or None when
    the text is not in a form the bot can read.

    "Acme Goods | United States", "Acme Goods - United States" and "Acme Goods United
    States" (the last only as the configured pair itself: a space cannot be split); a text
    that is the configured account alone gives no marketplace.
    """
    name = strip_markers(text)
    if account and marketplace:
        for sep in (" | ", " - ", " "):
            if same_name(name, f"{account}{sep}{marketplace}"):
                return account, marketplace
    for sep in ("|", " - "):
        left, found, right = name.rpartition(sep)
        if found and left.strip() and right.strip():
            return " ".join(left.split()), " ".join(right.split())
    if account and same_name(name, account):
        return account, None
    return None


def verdict(account: str | None, marketplace: str | None, seen: Sequence[Seen], *,
            header_text: str | None = None) -> Verdict:
    """The verdict on the configured ``account`` and ``marketplace`` from what was ``seen``
    (in order: header, picker, url, saved sign-in). ``header_text`` is what the header's
    switcher shows (None: no switcher), for the message when nothing confirms."""
    wanted = {ACCOUNT: account, MARKETPLACE: marketplace}
    expected = expected_label(account, marketplace)
    for source in seen:
        for part, want in wanted.items():
            shown = getattr(source, part)
            if want and shown is not None and not same_name(want, shown):
                return Verdict("wrong_account",
                               f"signed in to {source.text}, expected {expected} "
                               f"(as the {source.source} shows)", "none",
                               contradicted_by=source)
    parts: dict[str, str | None] = {
        part: next((s.source for s in seen if getattr(s, part) is not None), None)
        for part, want in wanted.items() if want}
    lead = ACCOUNT if account else MARKETPLACE
    by = parts.get(lead)
    confirmed_by = by if by in PAGE_SOURCES else "none"
    missing = [part for part, source in parts.items() if source is None]
    if not missing:
        how = ", ".join(f"{part} by the {source}" for part, source in parts.items())
        return Verdict(None, f"{expected} confirmed ({how or 'nothing configured'})",
                       confirmed_by, parts)
    return Verdict("account_unconfirmed", _unconfirmed(expected, missing, header_text),
                   "none", parts)


def _unconfirmed(expected: str, missing: Sequence[str], header_text: str | None) -> str:
    what = " and ".join(missing)
    if header_text is None:
        header = "the header shows no account switcher"
    else:
        header = f"the header's account switcher shows '{header_text}'"
    return (f"the {what} cannot be confirmed as {expected}: {header}, no choice was read "
            f"back on the account picker in this run, and the address names no marketplace "
            f"(a seller with a single account may leave accounts[].account_name and "
            f"marketplace unset)")
