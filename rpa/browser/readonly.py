"""A browser that only reads: every request that could change something (any method but
GET, HEAD and OPTIONS) is stopped before it leaves and noted, unless the caller allows its
address (the sign-in forms). Installed on the browser context before its first page loads,
it holds for every page, frame and script of the run, whatever the code or a person in the
window does: a reply, a "No response needed" or any form sent is stopped, not sent.

Requests a service worker makes are not seen by the browser context's routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from loguru import logger
from playwright.sync_api import BrowserContext, Route

READS = ("GET", "HEAD", "OPTIONS")


@dataclass
class ReadOnly:
    """The guard of one browser context; ``stopped`` lists what it stopped."""

    allow: Callable[[str], bool] = field(default=lambda url: False)
    stopped: list[str] = field(default_factory=list)
    installed: bool = False

    def install(self, context: BrowserContext) -> ReadOnly:
        context.route("**/*", self._route)
        self.installed = True
        return self

    def _route(self, route: Route) -> None:
        request = route.request
        if request.method in READS or self.allow(request.url):
            route.fallback()
            return
        url = urlparse(request.url)
        what = f"{request.method} {url.netloc}{url.path}"
        self.stopped.append(what)
        logger.info("read-only: stopped {}", what)
        route.abort("blockedbyclient")
