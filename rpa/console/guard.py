"""What every request passes before a page sees it: the host it names, and for a request
that changes something, the site whose page sent it.

The host: only the names the console answers to (``console.allowed_hosts``, plus
localhost, 127.0.0.1 and the listen address, always) are served; any other gets 400
(Starlette's ``TrustedHostMiddleware``). A site whose name an attacker points at
127.0.0.1 (DNS rebinding) names its own host, so its pages can neither read the console's
nor try passwords against it.

The site: every request but GET and HEAD changes state (none of the console's GETs does),
and is taken only when its ``Origin`` (or, without one, its ``Referer``) is one of the
console's own origins; else 403, written to the audit table. The own origins follow from
the same names: the listen port for this machine's names; the listen port or the scheme's
default port (the proxy's) for a configured name without a port; the scheme the request
came by (behind a proxy on this machine, its ``X-Forwarded-Proto``), or https when
``console.https``.

A request with neither header is refused too: every browser sends ``Origin`` with a POST
(and the console's pages keep the ``Referer`` for their own site), so only a client other
than a browser lacks both, and such a client can send ``Origin`` itself. Nothing then
changes on the strength of the cookie and the form's token alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from rpa.config import ConsoleConfig
from rpa.console import web
from rpa.text import clean_line

# This machine's own names, always answered to besides the listen address.
LOCAL_NAMES = ("localhost", "127.0.0.1")
SAFE_METHODS = ("GET", "HEAD")
NOT_SIGNED_IN = "(not signed in)"


@dataclass(frozen=True)
class Name:
    """A name the console answers to: ``host`` as a URL spells it (lower case, an IPv6
    address without brackets) and ``port`` when one was given; ``local``: one of this
    machine's (its origins use the listen port only)."""

    host: str
    port: int | None = None
    local: bool = False

    @property
    def host_header(self) -> str:
        """The host as a ``Host`` header spells it (an IPv6 address in brackets)."""
        return f"[{self.host}]" if ":" in self.host else self.host


def _spelled(host: str) -> str:
    """``host`` as a URL's host name reads: lower case, an address in one spelling (e.g.
    ::1 for 0:0::1), an IPv6 address without brackets."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def names(console: ConsoleConfig, listen_host: str) -> list[Name]:
    """The names the console answers to: this machine's (the listen address, localhost,
    127.0.0.1), then ``console.allowed_hosts``."""
    out = [Name(_spelled(host), local=True) for host in (listen_host, *LOCAL_NAMES)]
    for entry in console.allowed_hosts:  # checked and written out by the configuration
        host, port = entry, None
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else None
        elif entry.count(":") == 1:
            host, _, number = entry.partition(":")
            port = int(number)
        out.append(Name(_spelled(host), port))
    return list(dict.fromkeys(out))


def host_headers(allowed: Sequence[Name]) -> list[str]:
    """The hosts ``TrustedHostMiddleware`` lets through (it looks at the host, not the
    port)."""
    return list(dict.fromkeys(name.host_header for name in allowed))


def own_origin(url: str, allowed: Sequence[Name], schemes: set[str],
               listen_port: int) -> bool:
    """Whether ``url`` (an ``Origin``, or a ``Referer`` whose path is ignored) is one of the
    console's own origins."""
    try:
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), parts.hostname or "", parts.port
    except ValueError:
        return False
    if scheme not in schemes or not host or parts.username or parts.password:
        return False
    default = 443 if scheme == "https" else 80
    port = port or default
    host = _spelled(host)
    for name in allowed:
        if name.host != host:
            continue
        if name.port is not None:
            wanted: tuple[int, ...] = (name.port,)
        elif name.local:
            wanted = (listen_port,)
        else:
            wanted = (listen_port, default)
        if port in wanted:
            return True
    return False


class OriginCheck:
    """Refuses (403, audited) a request that changes state unless its ``Origin`` or, without
    one, its ``Referer`` is one of the console's own origins."""

    def __init__(self, app: ASGIApp, allowed: Sequence[Name], https: bool,
                 listen_port: int) -> None:
        self.app = app
        self.allowed = list(allowed)
        self.https = https
        self.listen_port = listen_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin, referer = headers.get("origin"), headers.get("referer")
        claimed = origin if origin is not None else referer
        schemes = {str(scope.get("scheme", "http")).lower()}
        if self.https:
            schemes.add("https")
        server = scope.get("server")
        port = int(server[1]) if server and server[1] else self.listen_port
        if claimed is not None and own_origin(claimed, self.allowed, schemes, port):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        console = web.console_of(request)
        session = console.session(request)
        client = request.client.host if request.client else "unknown"
        if origin is not None:
            said = f"Origin {clean_line(origin, 200)!r}"
        elif referer is not None:
            said = f"Referer {clean_line(referer, 200)!r}"
        else:
            said = "neither Origin nor Referer"
        console.audit(session.user if session else NOT_SIGNED_IN, "origin_refused",
                      f"{scope['method']} {clean_line(scope.get('path', ''), 200)} from "
                      f"{client}: {said}")
        response = web.render(
            request, "error.html", status_code=403, status=403,
            detail="This form was not sent from a page of the console, so nothing was done. "
                   "Open the console at its own address and try again.")
        await response(scope, receive, send)
