"""New Seller Central ("NGS"): the home address the bot opens, and the dashboard it never reads.

Accounts moved to New Seller Central have ``/home`` redirected to
``/amazonsell/business?ref=homepage_redirect_ngs``, a single-page "My business" dashboard
built from ``casino-*`` components, without the classic home's figures; ``/home`` with
``ngs_do_not_redirect_flag=1`` keeps the classic home (sources S3 §4b-4c and PR #52, U26 of
the evidence study).

The bot always opens the home page with that flag (:data:`HOME_PATH`): one request, and the
same page whether or not the account has been moved. Where the flag is dropped on the way
(Seller Central's own redirect after choosing an account goes to ``/home`` without it), the
NGS dashboard is still recognised, by its address and its components (``app.ngs_home`` in
selectors.yaml), as a signed-in page, never as an unknown one; the bot then opens
:data:`HOME_PATH` itself. Should the dashboard show even then, its figures are reported as
not read, with why (:class:`NgsHome`): they are never read from it.
"""

from __future__ import annotations

from typing import NoReturn

from rpa.errors import PageError
from rpa.seller_central.home import (
    BUYER_MESSAGES,
    PERFORMANCE,
    UNSHIPPED,
    AccountHealth,
    Home,
    NotRead,
)

NGS_FLAG = "ngs_do_not_redirect_flag"
HOME_PATH = f"/home?{NGS_FLAG}=1"
NGS_PATH = "/amazonsell/business"
NOT_READ = ("New Seller Central's dashboard (/amazonsell/business) is shown even with "
            f"{NGS_FLAG}=1, and the figures are read only from the classic home")


class NgsHome(Home):
    """The home page when it is New Seller Central's dashboard: every figure not read."""

    def unshipped_count(self) -> int:
        raise NotRead(UNSHIPPED, NOT_READ)

    def buyer_messages_count(self) -> int:
        raise NotRead(BUYER_MESSAGES, NOT_READ)

    def performance_label(self) -> str:
        raise NotRead(PERFORMANCE, NOT_READ)

    def open_performance_details(self) -> AccountHealth:
        self._refuse()

    def _refuse(self) -> NoReturn:
        raise PageError(f"Account Health is not opened from the NGS dashboard: {NOT_READ}")
