"""What to do with an email in the support mailbox, decided from its headers alone.

The operating instructions say: delete Amazon's "Your e-mail to ..." copies, "Sold, ship
now" notices and "Fulfillment by Amazon" promotions; answer "<customer> Amazon Marketplace"
mails in Seller Central (never by email) and delete them only then; read everything else,
summarise it for the owner and leave it unread. Those rules are data (:data:`DEFAULT_RULES`)
and can be replaced in the configuration. Mail no person wrote has default rules too: a
bounce is escalated (summarised by what bounced), an auto-reply is kept without a text, and
a newsletter or list mail goes into the owner's daily digest (action ``digest``).

Checks come before any rule: mail from the owner is an answer to record; a From header that
cannot be taken at its word (an address shown in the name, several addresses, none, hidden
characters) is never trusted as Amazon, and escalated with a warning when it claims Amazon;
a sender on an Amazon domain must be authenticated (:mod:`rpa.mail.auth`), and one that
fails is possible phishing; a sender that mentions Amazon (or an obfuscation such as
"amaz0n", "Αmazon") from a domain that is not Amazon's is possible phishing too. Those are
escalated and never deleted. A rule marked ``amazon`` only applies to an authenticated
Amazon sender, so neither a lookalike nor a spoof can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rpa.errors import ConfigError
from rpa.mail import auth, kinds
from rpa.mail.amazon import AMAZON_DOMAINS, domain_within, is_trusted, mentions_amazon
from rpa.mail.headers import MailItem
from rpa.patterns import PatternError, compile_pattern
from rpa.text import latin_skeleton, show_hidden

ACTIONS = ("delete", "buyer_message", "owner_reply", "escalate", "keep", "digest")
MATCHER_FIELDS = ("subject", "sender_name", "sender_address", "sender_domain")
# true: only mail of that kind (rpa.mail.kinds); false: only mail not of that kind.
KIND_FIELDS = (kinds.BOUNCE, kinds.AUTO_REPLY, kinds.MAILING_LIST)
RULE_KEYS = ("name", "action", *MATCHER_FIELDS, *KIND_FIELDS, "amazon")
# Trusted as Amazon unless the configuration says otherwise (mailbox.trusted_domains).
DEFAULT_TRUSTED_DOMAINS = [d.domain for d in AMAZON_DOMAINS]
AUTHENTICATION = ("required", "when-present")
PHISHING = "Possible phishing"
OWNER_PHISHING = "Possible phishing imitating the owner"
UNVERIFIED = "Unverified Amazon sender"

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
    ``amazon=True`` limits the rule to authenticated senders on a trusted Amazon domain.
    ``bounce``, ``auto_reply`` and ``mailing_list`` (true or false) limit it to mail that
    is, or is not, of that kind (:mod:`rpa.mail.kinds`); one set to true is a matcher.
    """

    name: str
    action: str
    subject: list[str] = field(default_factory=list)
    sender_name: list[str] = field(default_factory=list)
    sender_address: list[str] = field(default_factory=list)
    sender_domain: list[str] = field(default_factory=list)
    amazon: bool = False
    bounce: bool | None = None
    auto_reply: bool | None = None
    mailing_list: bool | None = None

    def matchers(self) -> dict[str, list[str]]:
        """The non-empty pattern lists by field."""
        return {f: getattr(self, f) for f in MATCHER_FIELDS if getattr(self, f)}

    def kind_conditions(self) -> dict[str, bool]:
        """The kind conditions set: kind -> the mail must be (true) or must not be of it."""
        return {k: getattr(self, k) for k in KIND_FIELDS if getattr(self, k) is not None}

    def matches(self, item: MailItem) -> bool:
        """Whether the item satisfies every non-empty matcher and every kind condition
        (the domain check is apart)."""
        lists = self.matchers()
        wanted = self.kind_conditions()
        if not lists and True not in wanted.values():
            return False
        if wanted:
            kind = kinds.kind_of(item)
            if any((kind == k) != must for k, must in wanted.items()):
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
    # For the owner's text: "Possible phishing" / "Unverified Amazon sender" ("" when none),
    # and what the sender really is ("'Amazon Seller Support' from pay-verify.example").
    warning: str = ""
    sender: str = ""


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
    # Mail no person wrote. A bounce is summarised by what bounced; an auto-reply is kept
    # and recorded without a text; a newsletter or list mail goes into one daily digest.
    Rule("bounce", "escalate", bounce=True),
    Rule("auto_reply", "keep", auto_reply=True),
    Rule("mailing_list", "digest", mailing_list=True),
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


def _idna(domain: str) -> str:
    """A punycode domain (xn--...) in Unicode, so a homograph shows its letters."""
    if "xn--" not in domain:
        return domain
    try:
        return domain.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return domain


def _ascii_domain(domain: str) -> str:
    """A domain as the owner may read it without being fooled: punycode for a Unicode
    domain (a Cyrillic "а" cannot pass for a Latin one), hidden characters shown."""
    if domain.isascii():
        return show_hidden(domain)
    try:
        return domain.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return show_hidden(domain)


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
    addr = show_hidden(item.from_addr)
    if item.from_name and addr:
        return f"{item.from_name} <{addr}>"
    return item.from_name or addr or "(no sender)"


def real_sender(item: MailItem, *, domain: str = "") -> str:
    """The sender as the owner should see it: the name in quotes and the domain the mail
    really comes from ("'Amazon Seller Support' from pay-verify.example"; ``domain``, when
    given, instead of the From address's; every domain when From names several)."""
    name = item.from_name if len(item.from_name) <= 40 else item.from_name[:39] + "…"
    domain = domain or item.from_domain
    if domain:
        domains = [domain] + [a.rsplit("@", 1)[-1] for a in item.from_others if "@" in a]
        where = " and ".join(dict.fromkeys(_ascii_domain(d) for d in domains))
    elif item.from_addr:
        where = f"'{show_hidden(item.from_addr)}' (no domain)"
    else:
        where = "no address"
    return f"'{name}' from {where}" if name else where


# --------------------------------------------------------------------------- trust

@dataclass(frozen=True)
class AuthPolicy:
    """How Amazon senders are authenticated: whose Authentication-Results count
    (``authserv_id``; None: the topmost header's) and whether a mail without any is
    refused (``required``) or trusted by its domain alone (``when-present``)."""

    authserv_id: str | None = None
    required: bool = False


@dataclass
class Trust:
    """What the sender checks concluded: whether the Amazon rules may apply, a decision
    that ends the triage (a warning to escalate), and a note for the run."""

    trusted: bool
    decision: Decision | None = None
    note: str = ""


def _aligned(trusted_domains: list[str]) -> Any:
    # Without the Public Suffix List, relaxed DKIM alignment is read as: both domains lie
    # within the same trusted Amazon domain (d=amazon.com signs for marketplace.amazon.com,
    # not for amazon.de).
    def aligned(d: str, from_domain: str) -> bool:
        return any(domain_within(d, t) and domain_within(from_domain, t)
                   for t in trusted_domains)
    return aligned


def _claims_amazon(item: MailItem, trusted_domains: list[str]) -> bool:
    if is_trusted(item.from_domain, trusted_domains) or _lookalike_where(item):
        return True
    # An address shown in the display name, a further From address, or a second "@domain"
    # in a malformed address, on Amazon's domains or spelling Amazon.
    shown = re.findall(r"@([\w.-]+)", " ".join((item.from_name, item.from_addr,
                                                *item.from_others)))
    return any(is_trusted(d, trusted_domains) or mentions_amazon(d, symbols=False)
               for d in shown)


def sender_trust(item: MailItem, trusted_domains: list[str], policy: AuthPolicy) -> Trust:
    """Whether the Amazon rules may apply to this sender, or why it is escalated.

    A From header with problems is never trusted (escalated as possible phishing when it
    claims Amazon); a sender on a trusted domain must be authenticated by
    Authentication-Results (a failure is possible phishing, no verdict is "unverified"),
    and for a mail without any Authentication-Results ``policy.required`` decides; a
    sender elsewhere that mentions Amazon is a lookalike.
    """
    on_amazon = is_trusted(item.from_domain, trusted_domains)
    if item.from_problems:
        problems = "; ".join(item.from_problems)
        if _claims_amazon(item, trusted_domains):
            return Trust(False, Decision(
                "suspicious_from", "escalate", warning=PHISHING, sender=real_sender(item),
                note=(f"possible phishing: the From header claims Amazon but cannot be taken "
                      f"at its word ({problems}): {_sender_text(item)}")))
        return Trust(False, note=f"the From header is not sound ({problems})")
    if on_amazon:
        verdict = auth.verify(item.header_values("authentication-results"), item.from_domain,
                              authserv_id=policy.authserv_id,
                              aligned=_aligned(trusted_domains))
        if verdict.status == auth.PASS:
            return Trust(True, note=f"authenticated: {verdict.why}")
        if verdict.status == auth.ABSENT and not policy.required:
            return Trust(True, note=(f"not authenticated ({verdict.why}); trusted by its "
                                     "domain (mailbox.authentication: when-present)"))
        via = verdict.envelope
        if via and not is_trusted(via, trusted_domains):
            # the envelope sender's domain is where the mail really comes from
            shown = real_sender(item, domain=via) + f" posing as {item.from_domain}"
        else:
            shown = real_sender(item) + " (authentication failed)"
        if verdict.status == auth.FAIL:
            return Trust(False, Decision(
                "spoofed_amazon", "escalate", warning=PHISHING, sender=shown,
                note=(f"possible phishing: {item.from_domain} is Amazon's but the mail is "
                      f"not authenticated: {verdict.why} ({_sender_text(item)})")))
        why = verdict.why + (" (mailbox.authentication: required)"
                             if verdict.status == auth.ABSENT else "")
        return Trust(False, Decision(
            "unverified_amazon", "escalate", warning=UNVERIFIED,
            sender=f"{real_sender(item)} (not authenticated)",
            note=(f"not trusted as Amazon: {why} ({_sender_text(item)})")))
    where = _lookalike_where(item)
    if where:
        domain = _ascii_domain(item.from_domain) if item.from_domain else "no domain"
        return Trust(False, Decision(
            "lookalike", "escalate", warning=PHISHING, sender=real_sender(item),
            note=(f"possible phishing: the sender's {where} mentions Amazon but "
                  f"{domain} is not a trusted Amazon domain ({_sender_text(item)})")))
    return Trust(False)


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
             owner_addresses: list[str], auth_policy: AuthPolicy | None = None) -> Decision:
    """The decision for one email.

    In order: the owner's own address gives ``owner_reply``; the sender checks
    (:func:`sender_trust`) escalate a spoof, a lookalike or a From header that claims
    Amazon without being sound; then the rules, first match wins (``amazon`` rules only
    for an authenticated Amazon sender); otherwise escalate as unknown. How the sender was
    trusted is added to the note.
    """
    trust = sender_trust(item, trusted_domains, auth_policy or AuthPolicy())
    dec = _decide(item, rules, trust=trust, owner_addresses=owner_addresses)
    if trust.note and dec.rule != "owner":
        dec.note = f"{dec.note}; {trust.note}" if dec.note else trust.note
    return dec


def imitated_owner(item: MailItem, owners: set[str]) -> str:
    """The owner address a sender imitates ("" when none): an address or domain that reads
    the same as an owner's once look-alike characters are folded ("example-sh0p.test" for
    "example-shop.test") without being it, or a display name that shows an owner's address
    or domain while the mail comes from elsewhere."""
    addr = item.from_addr.lower()
    domain = item.from_domain.lower()
    name = item.from_name.lower()
    name_skeleton = latin_skeleton(name, symbols=False)
    for owner in sorted(owners):
        owner_domain = owner.rpartition("@")[2]
        if addr == owner:
            continue
        if addr and latin_skeleton(addr, symbols=False) == latin_skeleton(owner, symbols=False):
            return owner
        if domain and domain != owner_domain and \
                latin_skeleton(domain, symbols=False) == latin_skeleton(owner_domain,
                                                                        symbols=False):
            return owner
        if name and domain != owner_domain and (
                owner in name or owner_domain in name
                or latin_skeleton(owner_domain, symbols=False) in name_skeleton):
            return owner
    return ""


def _decide(item: MailItem, rules: list[Rule], *, trust: Trust,
            owner_addresses: list[str]) -> Decision:
    owners = {a.strip().lower() for a in owner_addresses if a.strip()}
    if item.from_addr and item.from_addr.lower() in owners and not item.from_problems:
        return Decision("owner", "owner_reply", note="mail from the owner")
    imitated = imitated_owner(item, owners) if owners else ""
    if imitated or (item.from_problems and item.from_addr.lower() in owners):
        whom = imitated or item.from_addr
        return Decision("owner_lookalike", "escalate", warning=OWNER_PHISHING,
                        sender=real_sender(item),
                        note=(f"possible phishing imitating the owner ({whom}): never taken "
                              f"as an answer, not deleted ({_sender_text(item)})"))
    if trust.decision is not None:
        return trust.decision
    trusted = trust.trusted
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
        kind_of: dict[str, bool | None] = {}
        for k in KIND_FIELDS:
            value = entry.get(k)
            if value is not None and not isinstance(value, bool):
                raise ConfigError("expected true or false", file=source, key=f"{at}.{k}")
            kind_of[k] = value
        if sum(1 for v in kind_of.values() if v) > 1:
            raise ConfigError("a mail is of one kind at most: set only one of "
                              + ", ".join(KIND_FIELDS) + " to true", file=source, key=at)
        if not any(lists.values()) and not any(kind_of.values()):
            raise ConfigError("a rule needs at least one of " + ", ".join(MATCHER_FIELDS)
                              + ", or one of " + ", ".join(KIND_FIELDS) + " set to true"
                              " (a rule without matchers would match every email)",
                              file=source, key=at)
        rules.append(Rule(name=name, action=str(action), amazon=amazon, **lists,
                          bounce=kind_of[kinds.BOUNCE], auto_reply=kind_of[kinds.AUTO_REPLY],
                          mailing_list=kind_of[kinds.MAILING_LIST]))
    return rules
