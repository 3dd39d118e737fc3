"""What to do with an email in the support mailbox, decided from its headers alone.

The operating instructions say: delete Amazon's "Your e-mail to ..." copies, "Sold, ship
now" notices and "Fulfillment by Amazon" promotions; answer "<customer> Amazon Marketplace"
mails in Seller Central (never by email) and delete them only then; read everything else,
summarise it for the owner and leave it unread. Those rules are data (:data:`DEFAULT_RULES`)
and can be replaced in the configuration.

Two checks come before any rule: mail from the owner is an answer to record, and a sender
that mentions Amazon (or an obfuscation such as "amaz0n") from a domain that is not one of
Amazon's is possible phishing, escalated and never deleted. A rule marked ``amazon`` only
applies to senders on a trusted Amazon domain, so a lookalike can never use it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rpa.errors import ConfigError
from rpa.mail.headers import MailItem
from rpa.patterns import PatternError, compile_pattern

ACTIONS = ("delete", "buyer_message", "owner_reply", "escalate", "keep")
MATCHER_FIELDS = ("subject", "sender_name", "sender_address", "sender_domain")
RULE_KEYS = ("name", "action", *MATCHER_FIELDS, "amazon")

DEFAULT_TRUSTED_DOMAINS = [
    "amazon.com", "marketplace.amazon.com", "amazon.co.uk", "amazon.de", "amazon.ca",
    "amazon.fr", "amazon.it", "amazon.es", "amazon.com.mx", "amazon.co.jp", "amazon.com.au",
    "amazon.in",
]

ORDER_ID = re.compile(r"(?<![\d-])\d{3}-\d{7}-\d{7}(?![\d-])")
_BUYER_NAME = re.compile(r"^\s*(.*?)\s*(?:-\s*)?amazon\s+marketplace\s*$", re.I)


@dataclass
class Rule:
    """One triage rule: every non-empty matcher list must match (AND across fields),
    any one pattern in a list is enough (OR within a field).

    Patterns are a keyword/phrase (case-insensitive, whole words) or ``/regex/flags``.
    Two fields read a plain pattern more strictly, because a keyword would also match a
    lookalike: ``sender_domain`` "example.com" matches that domain and its subdomains
    only, and a ``sender_address`` containing "@" matches that address only.
    ``amazon=True`` limits the rule to senders on a trusted Amazon domain.
    """

    name: str
    action: str
    subject: list[str] = field(default_factory=list)
    sender_name: list[str] = field(default_factory=list)
    sender_address: list[str] = field(default_factory=list)
    sender_domain: list[str] = field(default_factory=list)
    amazon: bool = False

    def matchers(self) -> dict[str, list[str]]:
        """The non-empty pattern lists by field."""
        return {f: getattr(self, f) for f in MATCHER_FIELDS if getattr(self, f)}

    def matches(self, item: MailItem) -> bool:
        """Whether the item satisfies every non-empty matcher (the domain check is apart)."""
        lists = self.matchers()
        if not lists:
            return False
        return all(any(_pattern_matches(fname, p, _field_value(item, fname)) for p in pats)
                   for fname, pats in lists.items())


@dataclass
class Decision:
    """The outcome for one email: which rule decided, the action and its details."""

    rule: str
    action: str
    note: str = ""
    buyer_name: str = ""
    order_id: str = ""


DEFAULT_RULES: list[Rule] = [
    # 3a. "Your e-mail to [CUSTOMER NAME]": Amazon's copy of the seller's own message.
    Rule("your_email_copy", "delete", subject=[r"/^\s*your\s+e-?mail\s+to\s+\S/i"],
         amazon=True),
    # 3b. "Sold, ship now: ...": the order notices worked through in Seller Central.
    Rule("sold_ship_now", "delete", subject=[r"/^\s*sold\s*,?\s*ship\s+now\b/i"], amazon=True),
    # 3c. "[CUSTOMER NAME] Amazon Marketplace": a buyer, answered in Seller Central only.
    Rule("buyer_message", "buyer_message",
         sender_name=[r"/\S\s*(-\s*)?\bamazon\s+marketplace\s*$/i"], amazon=True),
    # 3d. "Fulfillment by Amazon" promotions, by subject or by sender name.
    Rule("fba_promotion", "delete", subject=["Fulfillment by Amazon"], amazon=True),
    Rule("fba_promotion_sender", "delete", sender_name=["Fulfillment by Amazon"], amazon=True),
]


# --------------------------------------------------------------------------- matching

def _field_value(item: MailItem, fname: str) -> str:
    return {
        "subject": item.subject,
        "sender_name": item.from_name,
        "sender_address": item.from_addr,
        "sender_domain": item.from_domain,
    }[fname]


def _is_regex(pattern: str) -> bool:
    return bool(re.fullmatch(r"/.*/[imsx]*", pattern.strip(), flags=re.S))


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return compile_pattern(pattern)


def _pattern_matches(fname: str, pattern: str, value: str) -> bool:
    if fname == "sender_domain" and not _is_regex(pattern):
        return domain_within(value, pattern)
    if fname == "sender_address" and not _is_regex(pattern) and "@" in pattern:
        return value.strip().lower() == pattern.strip().lower()
    return bool(_compiled(pattern).search(value))


def domain_within(domain: str, parent: str) -> bool:
    """``domain`` is ``parent`` or one of its subdomains (case-insensitive)."""
    d = domain.strip().strip(".").lower()
    p = parent.strip().strip(".").lstrip("@").lower()
    if p.startswith("*."):
        p = p[2:]
    return bool(d and p) and (d == p or d.endswith("." + p))


def is_trusted(domain: str, trusted_domains: list[str]) -> bool:
    """Whether the sender's domain is a trusted domain or a subdomain of one."""
    return any(domain_within(domain, t) for t in trusted_domains)


# Characters that stand in for letters in a spoofed name: digits, symbols and Cyrillic or
# Greek letters that look like Latin ones.
_CONFUSABLES = str.maketrans({
    "0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "$": "s", "@": "a", "|": "l",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i",
    "ѕ": "s", "м": "m", "н": "h", "т": "t", "к": "k", "ԛ": "q", "ո": "n", "г": "r",
    "α": "a", "ο": "o", "ν": "v", "μ": "m", "ζ": "z", "Ζ": "z", "ε": "e", "ι": "i",
})
_AMAZON_LIKE = re.compile(r"a+m+a*z+o*n")


def _skeleton(text: str, *, symbols: bool = True) -> str:
    """Lower-case letters only, look-alike characters folded, "rn" read as "m"."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    if not symbols:
        text = text.replace("@", " ")
    text = text.translate(_CONFUSABLES)
    text = re.sub(r"[^a-z]", "", text)
    return text.replace("rn", "m").replace("vv", "w")


def _idna(domain: str) -> str:
    """A punycode domain (xn--...) in Unicode, so a homograph shows its letters."""
    if "xn--" not in domain:
        return domain
    try:
        return domain.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return domain


def mentions_amazon(text: str, *, symbols: bool = True) -> bool:
    """Whether the text spells Amazon, plainly or obfuscated (amaz0n, arnazon, amazn...)."""
    return bool(text) and bool(_AMAZON_LIKE.search(_skeleton(text, symbols=symbols)))


def _lookalike_where(item: MailItem) -> str:
    """Which part of the sender mentions Amazon ("" when none does)."""
    if mentions_amazon(item.from_name):
        return "name"
    local = item.from_addr.split("@", 1)[0] if "@" in item.from_addr else item.from_addr
    if mentions_amazon(_idna(item.from_domain), symbols=False):
        return "domain"
    if mentions_amazon(local, symbols=False):
        return "address"
    return ""


def _sender_text(item: MailItem) -> str:
    if item.from_name and item.from_addr:
        return f"{item.from_name} <{item.from_addr}>"
    return item.from_name or item.from_addr or "(no sender)"


def buyer_name_of(display_name: str) -> str:
    """The buyer's name in "Jane Doe - Amazon Marketplace" (or "Jane Doe Amazon Marketplace")."""
    m = _BUYER_NAME.match(display_name)
    name = m.group(1) if m else display_name
    return name.strip().strip("\"'").rstrip("-").strip()


def order_id_in(text: str) -> str:
    """The first Amazon order id (123-1234567-1234567) in a text, or ""."""
    m = ORDER_ID.search(text or "")
    return m.group(0) if m else ""


def classify(item: MailItem, rules: list[Rule], *, trusted_domains: list[str],
             owner_addresses: list[str]) -> Decision:
    """The decision for one email.

    In order: the owner's own address gives ``owner_reply``; a sender that mentions Amazon
    from an untrusted domain is escalated as possible phishing; then the rules, first match
    wins (``amazon`` rules skipped for untrusted domains); otherwise escalate as unknown.
    """
    owners = {a.strip().lower() for a in owner_addresses if a.strip()}
    if item.from_addr and item.from_addr.lower() in owners:
        return Decision("owner", "owner_reply", note="mail from the owner")
    trusted = is_trusted(item.from_domain, trusted_domains)
    if not trusted:
        where = _lookalike_where(item)
        if where:
            domain = item.from_domain or "no domain"
            return Decision(
                "lookalike", "escalate",
                note=(f"possible phishing: the sender's {where} mentions Amazon but "
                      f"{domain} is not a trusted Amazon domain ({_sender_text(item)})"))
    for rule in rules:
        if rule.amazon and not trusted:
            continue
        if not rule.matches(item):
            continue
        if rule.action == "buyer_message":
            return Decision(rule.name, rule.action, note="answer in Seller Central, not by email",
                            buyer_name=buyer_name_of(item.from_name),
                            order_id=order_id_in(item.subject))
        return Decision(rule.name, rule.action)
    return Decision("unknown", "escalate", note="no rule matches: summarise for the owner")


# --------------------------------------------------------------------------- configuration

def _pattern_list(value: Any, *, source: str, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError("expected a list of patterns (keywords or /regex/flags)",
                          file=source, key=key)
    out: list[str] = []
    for j, pattern in enumerate(value):
        if not isinstance(pattern, str):
            raise ConfigError(f"pattern {j + 1} is not text: {pattern!r}", file=source, key=key)
        try:
            compile_pattern(pattern)
        except PatternError as err:
            raise ConfigError(f"pattern {j + 1} {pattern!r}: {err}", file=source,
                              key=key) from err
        out.append(pattern.strip())
    return out


def parse_rules(data: list[dict[str, Any]], source: str) -> list[Rule]:
    """Rules from configuration data, checked; a ConfigError names the key at fault
    (``mailbox.rules[i].field``)."""
    base = "mailbox.rules"
    if not isinstance(data, list):
        raise ConfigError("expected a list of rules", file=source, key=base)
    rules: list[Rule] = []
    names: set[str] = set()
    for i, entry in enumerate(data):
        at = f"{base}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError("a rule is a mapping with name, action and matchers",
                              file=source, key=at)
        for key in entry:
            if key not in RULE_KEYS:
                raise ConfigError(f"unknown key {key!r} (expected one of "
                                  f"{', '.join(RULE_KEYS)})", file=source, key=f"{at}.{key}")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("every rule needs a name", file=source, key=f"{at}.name")
        name = name.strip()
        if name in names:
            raise ConfigError(f"rule name '{name}' is used twice", file=source,
                              key=f"{at}.name")
        names.add(name)
        action = entry.get("action")
        if action not in ACTIONS:
            raise ConfigError(f"unknown action {action!r} (expected one of "
                              f"{', '.join(ACTIONS)})", file=source, key=f"{at}.action")
        amazon = entry.get("amazon", False)
        if not isinstance(amazon, bool):
            raise ConfigError("expected true or false", file=source, key=f"{at}.amazon")
        lists = {f: _pattern_list(entry.get(f) or [], source=source, key=f"{at}.{f}")
                 for f in MATCHER_FIELDS}
        if not any(lists.values()):
            raise ConfigError("a rule needs at least one of " + ", ".join(MATCHER_FIELDS)
                              + " (a rule without matchers would match every email)",
                              file=source, key=at)
        rules.append(Rule(name=name, action=str(action), amazon=amazon, **lists))
    return rules
