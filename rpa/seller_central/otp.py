"""Time-based one-time codes for two-step verification.

A code typed with only a second or two left may expire before the server checks it, so
we wait for the next time window when the current one has under ``min_left`` seconds, and
after a rejected code we wait for a code that differs from it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pyotp

from rpa.errors import ConfigError


def totp(secret: str) -> pyotp.TOTP:
    """A TOTP generator; a secret that is not base32 is a configuration error."""
    cleaned = secret.replace(" ", "").upper()
    try:
        gen = pyotp.TOTP(cleaned)
        gen.now()
    except Exception as err:  # binascii.Error and friends
        raise ConfigError("the TOTP secret is not valid base32 (check the variable's value)",
                          key="totp_secret_env") from err
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
