"""Reading Seller Central's words and numbers in the marketplace's language.

Seller Central keeps its ids from one marketplace to the next and changes its words and
its number format: ``1,234`` (English, Japanese), ``1.234`` (German, Italian, Spanish),
``1 234`` (French, with a space, a no-break space or a narrow no-break space). A count is
read only when the text holds exactly one number written the way the language writes it;
anything else is :class:`Unreadable`, never the digits that happen to look right.

Seller Performance is shown as Good / Fair / Poor (older home page) or Healthy / At Risk /
Unhealthy (Account Health), translated. :func:`status_of` maps both families, in the
account's language and in English (pages left untranslated), to ``good``, ``fair`` or
``poor``; any other wording is ``unknown``.

The labels a person reads beside each figure (:data:`FIGURE_LABELS`, :data:`TARGET_LABELS`)
are here too, for reading a page by its words where its ids are unknown
(:mod:`.labels`), and :func:`language_of_tag` turns a page's ``<html lang>`` into one of
the languages above.

Pure functions and tables: no browser here.
"""

from __future__ import annotations

import re
import unicodedata

GOOD, FAIR, POOR, UNKNOWN = "good", "fair", "poor", "unknown"

# The thousands separator of each language, after every kind of space became " ".
GROUPING: dict[str, str] = {
    "en": ",",
    "ja": ",",
    "de": ".",
    "it": ".",
    "es": ".",
    "fr": " ",
}

# Spaces that separate thousands in French, and full-width forms a Japanese page may use.
_NORMAL = str.maketrans({
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
    "\uff0c": ",", "\uff0e": ".",
    **{chr(0xFF10 + d): str(d) for d in range(10)},
})
# A run of digits in which single separators may stand between digits: "1.234", "1 234",
# "5.2", "1,234.5". Which of them is a count is decided by the language afterwards.
_NUMBER = re.compile(r"[0-9](?:[0-9]|[.,' ](?=[0-9]))*")


class Unreadable(ValueError):
    """A text that does not hold exactly one whole number in the language's format."""


def parse_count(text: str, language: str) -> int:
    """The one whole number in ``text`` ('Nicht versendet: 1.234' → 1234 in German).

    Raises :class:`Unreadable` when there is no number, more than one, or one the
    language would not write as a whole count (a decimal, another language's separator).
    """
    if language not in GROUPING:
        raise Unreadable(f"no number format known for language {language!r}")
    normal = text.translate(_NORMAL)
    found = _NUMBER.findall(normal)
    shown = " ".join(text.split())
    if not found:
        raise Unreadable(f"no number in {shown!r}")
    if len(found) > 1:
        raise Unreadable(f"more than one number in {shown!r}")
    token = found[0]
    if token.isdigit():
        return int(token)
    sep = GROUPING[language]
    groups = token.split(sep)
    if (all(g.isdigit() for g in groups) and 1 <= len(groups[0]) <= 3
            and all(len(g) == 3 for g in groups[1:])):
        return int("".join(groups))
    raise Unreadable(f"{token!r} in {shown!r} is not a whole number as {language!r} "
                     f"writes one (thousands separated by {sep!r})")


# Seller Performance and Account Health wording per language, both families: the older
# Good / Fair / Poor and the Account Health Rating's Healthy / At Risk / Unhealthy.
STATUS_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "good": GOOD, "healthy": GOOD,
        "fair": FAIR, "at risk": FAIR,
        "poor": POOR, "unhealthy": POOR, "critical": POOR, "bad": POOR,
    },
    "de": {
        "gut": GOOD, "gesund": GOOD,
        "mittel": FAIR, "gefährdet": FAIR, "risiko": FAIR,
        "schlecht": POOR, "ungesund": POOR, "nicht gesund": POOR, "kritisch": POOR,
    },
    "fr": {
        "bon": GOOD, "bonne": GOOD, "sain": GOOD, "en bonne santé": GOOD,
        "moyen": FAIR, "moyenne": FAIR, "à risque": FAIR, "a risque": FAIR,
        "mauvais": POOR, "mauvaise": POOR, "en mauvaise santé": POOR, "critique": POOR,
        "non sain": POOR,
    },
    "it": {
        "buono": GOOD, "buona": GOOD, "sano": GOOD, "in buona salute": GOOD,
        "discreto": FAIR, "discreta": FAIR, "a rischio": FAIR,
        "scarso": POOR, "scarsa": POOR, "non sano": POOR, "critico": POOR,
    },
    "es": {
        "bueno": GOOD, "buena": GOOD, "saludable": GOOD,
        "regular": FAIR, "aceptable": FAIR, "en riesgo": FAIR,
        "malo": POOR, "mala": POOR, "deficiente": POOR, "no saludable": POOR,
        "crítico": POOR, "critico": POOR,
    },
    "ja": {
        "良好": GOOD, "良い": GOOD, "健全": GOOD,
        "普通": FAIR, "リスクあり": FAIR, "要注意": FAIR,
        "不良": POOR, "悪い": POOR, "不健全": POOR, "危険": POOR,
    },
}


def _words(label: str) -> str:
    """Case, width, spacing and hyphens evened out; a trailing colon or full stop dropped."""
    text = unicodedata.normalize("NFKC", label).casefold().replace("-", " ")
    return " ".join(text.split()).strip(" :.。")


def status_of(label: str, language: str) -> str:
    """'Gut' → good, 'Gefährdet' → fair, 'Unhealthy' → poor; anything else → unknown.

    The account's language is tried first, then English; no other language is guessed at.
    """
    key = _words(label)
    for lang in (language, "en"):
        found = STATUS_WORDS.get(lang, {}).get(key)
        if found:
            return found
    return UNKNOWN


# The words a person reads beside each figure, per language: the value is the text that
# follows the label in the same card or row (rpa.seller_central.beside). A label starts
# the text it labels and no further word follows it ("Unshipped: 3", not "Unshipped
# orders"), so "FBM Unshipped" is a label of its own.
FIGURE_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "unshipped": {
        "en": ("Unshipped", "FBM Unshipped"),
        "de": ("Nicht versendet", "FBM nicht versendet"),
        "fr": ("Non expédiées", "FBM non expédiées"),
        "it": ("Non spediti", "FBM non spediti"),
        "es": ("No enviados", "FBM no enviados"),
        "ja": ("未出荷", "FBM 未出荷"),
    },
    "performance": {
        "en": ("Seller Performance", "Account Health"),
        "de": ("Verkäuferleistung", "Kontozustand"),
        "fr": ("Performances du vendeur", "Santé du compte"),
        "it": ("Prestazioni del venditore", "Stato dell'account"),
        "es": ("Rendimiento del vendedor", "Estado de la cuenta"),
        "ja": ("出品者パフォーマンス", "アカウント健全性"),
    },
    "buyer_messages": {
        "en": ("Buyer Messages", "Response needed"),
        "de": ("Käufernachrichten", "Antwort erforderlich"),
        "fr": ("Messages des acheteurs", "Réponse requise"),
        "it": ("Messaggi degli acquirenti", "Risposta necessaria"),
        "es": ("Mensajes de compradores", "Respuesta necesaria"),
        "ja": ("購入者からのメッセージ", "要返信"),
    },
}

# The word before an Account Health metric's target ("Target: < 4%").
# Account Health's metrics by the names the page gives them (English only: the translated
# names are not known). A name the page shows outside every row the bot found marks a row
# its selectors miss (rpa.seller_central.health). "Policy Compliance" is left out: it is
# also a section's heading.
METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("Order Defect Rate", "Late Shipment Rate", "Pre-fulfillment Cancel Rate",
           "Valid Tracking Rate", "On-Time Delivery Rate", "Contact Response Time"),
}
TARGET_LABELS: dict[str, tuple[str, ...]] = {
    "en": ("Target",), "de": ("Ziel",), "fr": ("Objectif",), "it": ("Obiettivo",),
    "es": ("Objetivo",), "ja": ("目標",),
}


def labels_for(table: dict[str, tuple[str, ...]], language: str) -> tuple[str, ...]:
    """The labels of ``language``, then the English ones (pages left untranslated)."""
    out = list(table.get(language, ()))
    out += [label for label in table.get("en", ()) if label not in out]
    return tuple(out)


def language_of_tag(tag: str | None) -> str | None:
    """The language a page's ``<html lang>`` names ('de-DE' → 'de'), if the bot reads it."""
    if not tag:
        return None
    code = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return code if code in GROUPING else None
