"""Whether a mail's From domain is authenticated, read from Authentication-Results (RFC 8601).

The receiving server checks SPF, DKIM and DMARC and writes what it found into an
``Authentication-Results`` header at the top of the message, led by its own name (the
authserv-id). Anyone can write such a header into a mail before sending it (RFC 8601: a
header is evidence only when a receiver the reader trusts added it), so only the configured
authserv-id counts, and only the topmost header carrying it. With none configured, no
header authenticates anything: on a server that adds none, "the topmost header" would be
the sender's own. :func:`stamped` tells whether a mail carries the configured id at all: a
server that stamps its id stamps every mail it receives, so mail without it shows the id
proves nothing on that mailbox.

A From domain is authenticated when DMARC passes for it, or, when the server gave no DMARC
verdict (no result, ``none``, ``temperror``, ``permerror``), when a DKIM signature passes
with a ``d=`` aligned to it. A ``fail`` (also SPF ``softfail``) with no such pass is a
failure. Pure: the mailbox flow decides what a verdict means for the mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

PASS, FAIL, NONE, ABSENT = "pass", "fail", "none", "absent"
_FAILS = ("fail", "softfail", "hardfail")
# DMARC results that are no verdict on the From domain: DKIM alignment decides then.
_NO_DMARC_VERDICT = ("none", "temperror", "permerror", "neutral")


@dataclass(frozen=True)
class Result:
    """One ``method=result`` of a header, with its reason and properties
    (``header.d``, ``smtp.mailfrom``, ... lower-cased names)."""

    method: str
    result: str
    reason: str = ""
    props: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        """``dkim=pass header.d=amazon.com``: the result with the property that names whom."""
        key = {"dkim": "header.d", "dmarc": "header.from", "spf": "smtp.mailfrom"}.get(
            self.method, "")
        who = self.props.get(key) or (self.props.get("header.i", "") if self.method == "dkim"
                                      else "")
        return f"{self.method}={self.result}" + (f" {key or 'header.i'}={who}" if who else "")


@dataclass(frozen=True)
class AuthHeader:
    """One Authentication-Results header: who wrote it and what it found."""

    authserv_id: str
    results: tuple[Result, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """What the trusted headers say about one From domain.

    ``status``: ``pass`` (authenticated), ``fail`` (a check failed and none passed),
    ``none`` (headers present, nothing decisive, or none from the trusted server) or
    ``absent`` (no Authentication-Results header at all). ``why`` says it in words;
    ``envelope`` is the SMTP sender's domain when known.
    """

    status: str
    why: str
    authserv_id: str = ""
    envelope: str = ""


# --------------------------------------------------------------------------- parsing

_QUOTED = r'"(?:[^"\\]|\\.)*"'


def _strip_comments(value: str) -> str:
    """The value without RFC 5322 comments (nested parentheses), quoted strings kept."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\" and (quoted or depth):
            escaped = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            out.append(ch)
            if ch == '"':
                quoted = False
            continue
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if not depth:
                out.append(" ")
        elif depth == 0:
            if ch == '"':
                quoted = True
            out.append(ch)
    return "".join(out)


def _split_outside_quotes(value: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


_TIGHTEN = re.compile(r"\s*([=./])\s*")
_PAIR = re.compile(rf"([A-Za-z0-9_\-./]+)=({_QUOTED}|[^\s\"]*)")


def _tighten(text: str) -> str:
    """Spaces around "=", "." and "/" outside quoted strings removed (CFWS is allowed
    there)."""
    pieces = re.split(f"({_QUOTED})", text)
    return "".join(p if p.startswith('"') else _TIGHTEN.sub(r"\1", p) for p in pieces)


def _resinfo(segment: str) -> Result | None:
    pairs = [(k.lower(), _unquote(v)) for k, v in _PAIR.findall(_tighten(segment))]
    if not pairs:
        return None
    method, result = pairs[0]
    method = method.split("/", 1)[0]  # a method version ("dkim/1") is not part of the name
    reason = ""
    props: dict[str, str] = {}
    for key, value in pairs[1:]:
        if key == "reason":
            reason = value
        elif "." in key:
            props.setdefault(key, value.strip().lower())
    return Result(method, result.strip().lower(), reason, props)


def parse_authentication_results(value: str) -> AuthHeader:
    """One header value, parsed leniently; an unreadable part is skipped, never raised.

    A header that starts with a result instead of an authserv-id (Exchange Online writes
    ``spf=pass ...; dkim=pass ...`` with none) gets the authserv-id "".
    """
    parts = _split_outside_quotes(_strip_comments(value or ""), ";")
    head = parts[0].strip()
    rest = parts[1:]
    tokens = re.findall(rf"{_QUOTED}|\S+", head)
    if tokens and "=" in tokens[0] and not tokens[0].startswith('"'):
        authserv_id, rest = "", parts
    else:
        authserv_id = _unquote(tokens[0]).lower() if tokens else ""
    results: list[Result] = []
    for segment in rest:
        segment = segment.strip()
        if not segment or segment.lower() == "none":
            continue
        res = _resinfo(segment)
        if res is not None:
            results.append(res)
    return AuthHeader(authserv_id, tuple(results))


# --------------------------------------------------------------------------- the verdict

def _domain_of(value: str) -> str:
    """The domain of ``user@domain``, ``@domain`` or ``domain``."""
    return value.rsplit("@", 1)[-1].strip().strip(".").lower()


def trusted_headers(values: Iterable[str], authserv_id: str | None) -> tuple[str, list[AuthHeader]]:
    """The authserv-id in force and the one header it vouches for: the topmost carrying the
    configured ``authserv_id``. None configured: no header at all."""
    wanted = (authserv_id or "").strip().lower()
    if not wanted:
        return "", []
    for value in values:
        header = parse_authentication_results(value)
        if header.authserv_id == wanted:
            return wanted, [header]
    return wanted, []


def stamped(values: Iterable[str], authserv_id: str) -> bool:
    """Whether a mail carries an Authentication-Results header under ``authserv_id``."""
    wanted = authserv_id.strip().lower()
    return any(parse_authentication_results(v).authserv_id == wanted for v in values)


def _topmost(headers: list[AuthHeader], method: str) -> list[Result]:
    for header in headers:
        found = [r for r in header.results if r.method == method]
        if found:
            return found
    return []


def verify(values: Iterable[str], from_domain: str, *, authserv_id: str | None,
           aligned: Callable[[str, str], bool]) -> Verdict:
    """The verdict on ``from_domain`` from a mail's Authentication-Results values (topmost
    first). ``aligned(d, from_domain)`` says whether a DKIM ``d=`` domain is aligned."""
    values = list(values)
    server, headers = trusted_headers(values, authserv_id)
    label = server or "the receiving server"
    if not values:
        return Verdict(ABSENT, "no Authentication-Results header", server)
    if not server:
        # Read as if there were none: without a trusted receiver's name, the topmost header
        # is whatever the sender wrote.
        return Verdict(ABSENT, "Authentication-Results not trusted: mailbox.authserv_id is "
                       "not set (or not stamped on every mail this run), and anyone can "
                       "write such a header", server)
    if not headers:
        # Headers only from other servers: whatever they say was not checked here.
        others = sorted({parse_authentication_results(v).authserv_id or "(none)"
                         for v in values})
        return Verdict(NONE, f"no Authentication-Results from {server}, only from "
                       + ", ".join(others) + " (not trusted)", server)
    dmarc = _topmost(headers, "dmarc")
    dkim = _topmost(headers, "dkim")
    spf = _topmost(headers, "spf")
    envelope = next((_domain_of(r.props["smtp.mailfrom"]) for r in spf
                     if r.props.get("smtp.mailfrom")), "")
    domain = from_domain.lower()

    def about_from(r: Result) -> bool:
        said = r.props.get("header.from", "")
        return not said or domain == said or domain.endswith("." + said)

    if any(r.result in _FAILS for r in dmarc):
        bad = next(r for r in dmarc if r.result in _FAILS)
        return Verdict(FAIL, f"{label} says {bad.text()}", server, envelope)
    if any(r.result == PASS and about_from(r) for r in dmarc):
        return Verdict(PASS, f"{label} says dmarc=pass for {domain}", server, envelope)
    if all(r.result in _NO_DMARC_VERDICT for r in dmarc):
        for r in dkim:
            d = r.props.get("header.d") or _domain_of(r.props.get("header.i", ""))
            if r.result == PASS and d and aligned(d, domain):
                return Verdict(PASS, f"{label} says dkim=pass for {d}, aligned with {domain}"
                               " (no DMARC result)", server, envelope)
    failed = [r.text() for r in (*dmarc, *dkim, *spf) if r.result in _FAILS]
    if failed:
        return Verdict(FAIL, f"{label} says " + ", ".join(failed), server, envelope)
    seen = ", ".join(r.text() for r in (*dmarc, *dkim, *spf)) or "no SPF, DKIM or DMARC result"
    return Verdict(NONE, f"{label} gives no DMARC pass or aligned DKIM pass for {domain} "
                   f"({seen})", server, envelope)


@dataclass(frozen=True)
class Survey:
    """What the newest mails say about the receiving server's id: how many were looked at,
    how many carry the configured id, and the ids every one of them carries."""

    checked: int
    configured_on: int
    on_every_mail: tuple[str, ...]


def survey(mails: list[list[str]], configured: str | None) -> Survey:
    """:class:`Survey` of ``mails`` (each mail's Authentication-Results values)."""
    ids_per_mail = [{parse_authentication_results(v).authserv_id for v in values} - {""}
                    for values in mails]
    on_all = set.intersection(*ids_per_mail) if ids_per_mail else set()
    wanted = (configured or "").strip().lower()
    return Survey(len(mails), sum(1 for ids in ids_per_mail if wanted and wanted in ids),
                  tuple(sorted(on_all)))
