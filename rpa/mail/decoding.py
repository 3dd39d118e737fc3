"""Bytes to text for mail that cannot be trusted: charsets and control characters.

Mail names charsets that Python does not know, or knows under another name, and some
name codecs that are not text encodings at all; :func:`decode_bytes` never raises.
"""

from __future__ import annotations

import codecs
import re

# C0 and C1 control characters except tab and newline: never shown to a person.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-sjis": "shift_jis",
    "ks_c_5601-1987": "cp949",
    "windows-874": "cp874",
    "ansi_x3.4-1968": "ascii",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}
_ASCII_NAMES = {"ascii", "us-ascii", "646", "us"}


def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None when there is no usable one."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").split("*", 1)[0].lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # bytes-to-bytes codecs such as base64 or zlib are not text encodings
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Bytes as text under a declared charset, never raising.

    A known charset is tried strictly, then UTF-8 (the most common mislabel), then the
    declared charset with replacement characters. Without a usable charset the bytes are
    read as UTF-8, falling back to Windows-1252 when no charset was declared at all, and
    to UTF-8 with replacement characters when the declared one is unknown.
    """
    codec = _codec(charset)
    if codec is not None and codec not in _ASCII_NAMES:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec is not None and codec not in _ASCII_NAMES:
        try:
            return data.decode(codec, "replace")
        except (LookupError, ValueError):
            pass
    if not charset or codec in _ASCII_NAMES:
        return data.decode("cp1252", "replace")
    return data.decode("utf-8", "replace")
