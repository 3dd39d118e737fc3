"""Each account's own series of escalation codes, once there is more than one account.

With one account the codes are B001, E002, F003: one series, as they always were. With
several, each account numbers its matters from 001 under a prefix of its own, written
before the code with a hyphen (ACME-B001, ACME-E002, BIRCH-B001): the owner of each seller
sees that seller's series, and a code still names one matter across every account, so the
console, ``rpa answer`` and an owner's emailed answer find it by the code alone.

``accounts[].code_prefix`` sets it (1 to 5 letters or digits, a letter first); left out,
it is made from the account's name (the first four letters of a one-word name, else the
first letter of each word and each number whole: ``acme`` ACME, ``birchwood-home`` BH,
``seller-12`` S12). Two accounts with one prefix, or a name nothing can be made from, are
a ConfigError asking for ``code_prefix``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from rpa.errors import ConfigError

PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,4}$")
# Words a mail client puts before a subject it answers ("Re", "AW", "Fwd"...): a prefix
# that is one of them would read "Re B004" as that account's code.
REPLY_WORDS = frozenset({"RE", "FW", "FWD", "AW", "WG", "TR", "ANTW", "SV", "VS", "VB",
                         "RIF", "R", "ODP", "YNT", "RES", "ENC", "WTR"})


class _Account(Protocol):
    name: str
    code_prefix: str | None


def clean_prefix(value: str) -> str:
    """``value`` as a prefix (upper case), or ValueError saying what a prefix is."""
    prefix = value.strip().upper()
    if not PREFIX.match(prefix):
        raise ValueError(f"{value!r} is no code prefix: 1 to 5 letters or digits, a letter "
                         "first (e.g. ACME: codes ACME-B001, ACME-E002)")
    if prefix in REPLY_WORDS:
        raise ValueError(f"{prefix} is a word mail clients put before a subject (Re:, "
                         "AW:, Fwd:...): choose another, or an answer's 'Re' would read "
                         "as this account's")
    return prefix


def derived_prefix(name: str) -> str | None:
    """The prefix made from an account's name, or None when none can be made."""
    words = re.findall(r"[A-Za-z]+|\d+", name)
    if not words or not words[0][0].isalpha():
        return None
    if len(words) == 1:
        made = words[0][:4]
    else:
        made = "".join(w if w.isdigit() else w[0] for w in words)[:5]
    made = made.upper()
    return made if PREFIX.match(made) and made not in REPLY_WORDS else None


def code_series(accounts: Sequence[_Account], source: str = "") -> dict[str, str]:
    """Each account's prefix by name ({} for a lone account without one: the one plain
    series). ConfigError when two accounts would share a prefix or one has none."""
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    for i, acc in enumerate(accounts):
        prefix = acc.code_prefix
        if prefix is None:
            if len(accounts) == 1:
                continue
            prefix = derived_prefix(acc.name)
            if prefix is None:
                raise ConfigError(f"no code prefix can be made from the name '{acc.name}': "
                                  "set code_prefix (e.g. ACME), each account's escalation "
                                  "codes start with it", file=source,
                                  key=f"accounts[{i}].code_prefix")
        if prefix in owner:
            raise ConfigError(f"accounts '{owner[prefix]}' and '{acc.name}' would both "
                              f"write codes {prefix}-B001, ...: give one a code_prefix of "
                              "its own", file=source, key=f"accounts[{i}].code_prefix")
        owner[prefix] = acc.name
        out[acc.name] = prefix
    return out
