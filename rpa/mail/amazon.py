"""What is Amazon's: its mail domains and its name, even disguised.

``amazon_domains.txt`` lists Amazon's mail domains (each marketplace's retail domain and
its buyer-seller messaging relay); :func:`is_trusted` and :func:`domain_within` tell
whether a sender's domain lies within one, and :func:`mentions_amazon` whether a name,
address or domain spells Amazon, plainly or disguised (the lookalikes triage escalates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from rpa.text import latin_skeleton


@dataclass(frozen=True)
class AmazonDomain:
    """One line of ``amazon_domains.txt``: a domain, ``retail`` or ``relay``, its
    marketplace."""

    domain: str
    kind: str
    marketplace: str


def load_amazon_domains(text: str | None = None) -> list[AmazonDomain]:
    """Amazon's mail domains from the packaged data file (or from ``text`` in its format)."""
    if text is None:
        text = resources.files("rpa.mail").joinpath("amazon_domains.txt").read_text("utf-8")
    out: list[AmazonDomain] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or parts[1] not in ("retail", "relay"):
            raise ValueError(f"amazon_domains.txt line {lineno}: expected 'domain retail|relay "
                             f"marketplace', got {line!r}")
        out.append(AmazonDomain(parts[0].lower(), parts[1], parts[2]))
    return out


AMAZON_DOMAINS = load_amazon_domains()
#: The buyer-seller messaging relays, one per marketplace (``marketplace.amazon.<tld>``).
RELAY_DOMAINS = [d.domain for d in AMAZON_DOMAINS if d.kind == "relay"]


def domain_within(domain: str, parent: str) -> bool:
    """``domain`` is ``parent`` or one of its subdomains (case-insensitive)."""
    d = domain.strip().strip(".").lower()
    p = parent.strip().strip(".").lstrip("@").lower()
    if p.startswith("*."):
        p = p[2:]
    return bool(d and p) and (d == p or d.endswith("." + p))


def is_trusted(domain: str, trusted_domains: list[str]) -> bool:
    """Whether the sender's domain is a trusted domain or a subdomain of one."""
    d = domain.strip().strip(".").lower()
    if not d:
        return False
    trusted = _domain_set(tuple(trusted_domains))
    # The domain and each parent of it ("a.b.amazon.com", "b.amazon.com", "amazon.com"...).
    while True:
        if d in trusted:
            return True
        dot = d.find(".")
        if dot < 0:
            return False
        d = d[dot + 1:]


@lru_cache(maxsize=64)
def _domain_set(trusted_domains: tuple[str, ...]) -> frozenset[str]:
    """Trusted domains as :func:`domain_within` reads them, for a lookup per parent."""
    out = set()
    for t in trusted_domains:
        p = t.strip().strip(".").lstrip("@").lower()
        if p.startswith("*."):
            p = p[2:]
        if p:
            out.add(p)
    return frozenset(out)


_AMAZON_LIKE = re.compile(r"a+m+a*z+o*n")


def mentions_amazon(text: str, *, symbols: bool = True) -> bool:
    """Whether the text spells Amazon, plainly or disguised: digits or symbols for letters
    (amaz0n), letters of other scripts that look Latin (Αmazon), "rn" for "m" (arnazon),
    hidden or direction-reversed characters, or shortened (amazn, amzn)."""
    return bool(text) and bool(_AMAZON_LIKE.search(latin_skeleton(text, symbols=symbols)))
