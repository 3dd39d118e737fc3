"""The language a Seller Central session is shown in, for its words and its numbers.

Seller Central follows the user's session setting, not the marketplace: an English session
on amazon.de is English, a German one on amazon.com German (evidence S3, U20). So the
language is, in this order:

1. ``accounts[].language`` when it names one (the owner said so);
2. else the page's own ``<html lang>``, when it names a language the bot reads;
3. else the marketplace's usual language (Deutschland → de, any other → en): the
   marketplace decides only where the page does not say.

It is read once a run, from the first page whose figures are read, and recorded in the
run's observations (``language``: the code and where it came from), so a reviewer sees
why a figure was read as German or English.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loguru import logger
from playwright.sync_api import Error as PlaywrightError

from rpa.config import AUTO_LANGUAGE
from rpa.seller_central.locale import language_of_tag

if TYPE_CHECKING:
    from rpa.seller_central.pages import SellerCentral

OBSERVATION = "language"
LANG_TIMEOUT_MS = 2000


def resolve(configured: str, page_tag: str | None, marketplace: str) -> tuple[str, str]:
    """The session's language and where it came from ('configured', 'page …',
    'marketplace …'). ``marketplace`` is the marketplace's usual language."""
    if configured != AUTO_LANGUAGE:
        return configured, "configured"
    found = language_of_tag(page_tag)
    if found is not None:
        return found, f'page (<html lang="{page_tag}">)'
    why = (f'the page says lang="{page_tag}", a language the bot does not read'
           if page_tag else "the page does not say")
    return marketplace, f"marketplace ({why})"


def page_tag(sc: SellerCentral) -> str | None:
    """The page's ``<html lang>``, or None when it has none."""
    try:
        tag = sc.page.locator("html").get_attribute("lang", timeout=LANG_TIMEOUT_MS)
    except PlaywrightError:
        return None
    return tag.strip() if tag and tag.strip() else None


def session_language(sc: SellerCentral) -> str:
    """The run's language (see the module's text), read and recorded on first use."""
    seen = sc.ctx.observations.get(OBSERVATION)
    if isinstance(seen, dict) and isinstance(seen.get("code"), str):
        return str(seen["code"])
    account = sc.ctx.account
    tag = None if account.language != AUTO_LANGUAGE else page_tag(sc)
    code, source = resolve(account.language, tag, account.marketplace_language)
    if source.startswith("marketplace"):
        logger.info("session language {} from the marketplace: {}", code, source)
    sc.ctx.observe(OBSERVATION, {"code": code, "from": source})
    return code
