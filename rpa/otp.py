"""Time-based one-time codes for two-step verification.

A code typed with only a second or two left may expire before the server checks it, so
we wait for the next time window when the current one has under ``min_left`` seconds, and
after a rejected code we wait for a code that differs from it. The authenticator key is
checked by pyotp's own rule (base32, at least its minimum number of bits) and a refused
key is reported with that rule, never echoed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pyotp

from rpa.errors import ConfigError

BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# Characters past a multiple of 8 that base32 can hold (they make 1, 2, 3 or 4 whole
# bytes); 1, 3 or 6 over means a character is missing or extra.
WHOLE_TAILS = (0, 2, 4, 5, 7)


def min_secret_bits() -> int:
    """The shortest key the installed pyotp accepts, in bits (112 from pyotp 2.10 on)."""
    return int(getattr(pyotp.TOTP, "min_secret_length_bits", 0))


def min_secret_chars(bits: int) -> int:
    """The fewest base32 characters that decode to at least ``bits`` bits."""
    n = 1
    while n % 8 not in WHOLE_TAILS or n * 5 // 8 * 8 < bits:
        n += 1
    return n


def clean_secret(secret: str) -> str:
    """The key as pyotp takes it: spaces, case and trailing '=' padding do not matter."""
    return "".join(secret.split()).upper().rstrip("=")


def secret_problem(secret: str) -> str | None:
    """Why the authenticator key would be refused, stating the rule; None when it is fine.

    The rule: base32 (letters A-Z and digits 2-7; spaces, lower case and '=' padding are
    ignored), a whole number of bytes, and at least pyotp's minimum length. Never echoes
    the key.
    """
    key = clean_secret(secret)
    bits = min_secret_bits()
    need = min_secret_chars(bits)
    least = f", at least {need} characters ({bits} bits, pyotp's minimum)" if bits else ""
    rule = f"a base32 key: letters A-Z and digits 2-7 (spaces and lower case are fine){least}"
    if not key:
        return f"it is empty; expected {rule}"
    bad = sum(1 for ch in key if ch not in BASE32)
    if bad:
        verb = "is" if bad == 1 else "are"
        return (f"{bad} of its {len(key)} characters {verb} not base32 (0, 1, 8, 9 and "
                f"punctuation never are); expected {rule}")
    if len(key) % 8 not in WHOLE_TAILS:
        return (f"{len(key)} characters cannot be a whole base32 key (a character is missing "
                f"or extra); expected {rule}")
    if len(key) * 5 // 8 * 8 < bits:
        return (f"it has {len(key)} characters ({len(key) * 5 // 8 * 8} bits), shorter than "
                f"pyotp accepts; expected {rule}. Check the whole key was copied")
    return None


def totp(secret: str, *, key: str = "totp_secret_env", source: str = "") -> pyotp.TOTP:
    """A TOTP generator; a key pyotp would refuse is a configuration error saying why.

    ``key`` and ``source`` name the setting in the error.
    """
    problem = secret_problem(secret)
    if problem is not None:
        raise ConfigError(f"the TOTP secret is not usable: {problem}", file=source, key=key)
    try:
        gen = pyotp.TOTP(clean_secret(secret))
        gen.now()
    except Exception as err:  # binascii.Error and friends: a rule pyotp added since
        raise ConfigError(f"the TOTP secret is not usable: pyotp refused it "
                          f"({type(err).__name__}: {err})", file=source, key=key) from err
    return gen


def seconds_left(gen: pyotp.TOTP, now: float) -> float:
    return gen.interval - (now % gen.interval)


def fresh_code(gen: pyotp.TOTP, *, min_left: float = 5.0, avoid: str | None = None,
               clock: Callable[[], float] = time.time,
               wait: Callable[[float], object] | None = None) -> str:
    """The current code once it has ``min_left`` seconds to live and differs from ``avoid``.

    This waits on the clock (the state that matters here), re-checking it until it holds.
    """
    pause = wait or threading.Event().wait
    while True:
        now = clock()
        code = gen.at(now)
        if seconds_left(gen, now) >= min_left and code != avoid:
            return str(code)
        pause(min(seconds_left(gen, now) + 0.05, 1.0))
