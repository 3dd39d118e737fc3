"""Amazon's marketplaces: their ids, their retail hosts and the names Seller Central gives them.

Seller Central names a marketplace in the session's language ("Germany", "Deutschland",
"德国"); its address carries the marketplace id after a switch (``mons_sel_mkid``, sources
U5 and S6 of the evidence study), and the oldest header lists marketplaces by host
("www.amazon.es", U23). This table lets the account check compare those with the configured
marketplace name. A name or host it does not know confirms nothing (and contradicts
nothing): the check then relies on what else the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpa.seller_central.labels import key


@dataclass(frozen=True)
class Marketplace:
    id: str
    host: str
    names: tuple[str, ...]  # English first, then the names other sessions show


MARKETPLACES: tuple[Marketplace, ...] = (
    Marketplace("ATVPDKIKX0DER", "www.amazon.com",
                ("United States", "Vereinigte Staaten", "États-Unis", "Stati Uniti",
                 "Estados Unidos", "アメリカ合衆国", "美国")),
    Marketplace("A2EUQ1WTGCTBG2", "www.amazon.ca", ("Canada", "Kanada", "カナダ", "加拿大")),
    Marketplace("A1AM78C64UM0Y8", "www.amazon.com.mx",
                ("Mexico", "Mexiko", "Mexique", "Messico", "México", "メキシコ", "墨西哥")),
    Marketplace("A2Q3Y263D00KWC", "www.amazon.com.br",
                ("Brazil", "Brasilien", "Brésil", "Brasile", "Brasil", "ブラジル", "巴西")),
    Marketplace("A1F83G8C2ARO7P", "www.amazon.co.uk",
                ("United Kingdom", "Vereinigtes Königreich", "Royaume-Uni", "Regno Unito",
                 "Reino Unido", "イギリス", "英国")),
    Marketplace("A1PA6795UKMFR9", "www.amazon.de",
                ("Germany", "Deutschland", "Allemagne", "Germania", "Alemania", "ドイツ",
                 "德国")),
    Marketplace("A13V1IB3VIYZZH", "www.amazon.fr",
                ("France", "Frankreich", "Francia", "フランス", "法国")),
    Marketplace("APJ6JRA9NG5V4", "www.amazon.it",
                ("Italy", "Italien", "Italie", "Italia", "イタリア", "意大利")),
    Marketplace("A1RKKUPIHCS9HS", "www.amazon.es",
                ("Spain", "Spanien", "Espagne", "Spagna", "España", "スペイン", "西班牙")),
    Marketplace("A1805IZSGTT6HS", "www.amazon.nl",
                ("Netherlands", "Niederlande", "Pays-Bas", "Paesi Bassi", "Países Bajos",
                 "オランダ", "荷兰")),
    Marketplace("AMEN7PMS3EDWL", "www.amazon.com.be",
                ("Belgium", "Belgien", "Belgique", "Belgio", "Bélgica", "ベルギー", "比利时")),
    Marketplace("A2NODRKZP88ZB9", "www.amazon.se",
                ("Sweden", "Schweden", "Suède", "Svezia", "Suecia", "スウェーデン", "瑞典")),
    Marketplace("A1C3SOZRARQ6R3", "www.amazon.pl",
                ("Poland", "Polen", "Pologne", "Polonia", "ポーランド", "波兰")),
    Marketplace("A33AVAJ2PDY3EV", "www.amazon.com.tr",
                ("Turkey", "Türkei", "Turquie", "Turchia", "Turquía", "トルコ", "土耳其")),
    Marketplace("A2VIGQ35RCS4UG", "www.amazon.ae",
                ("United Arab Emirates", "Vereinigte Arabische Emirate",
                 "Émirats arabes unis", "Emirati Arabi Uniti", "Emiratos Árabes Unidos",
                 "アラブ首長国連邦", "阿拉伯联合酋长国")),
    Marketplace("A17E79C6D8DWNP", "www.amazon.sa",
                ("Saudi Arabia", "Saudi-Arabien", "Arabie saoudite", "Arabia Saudita",
                 "サウジアラビア", "沙特阿拉伯")),
    Marketplace("ARBP9OOSHTCHU", "www.amazon.eg",
                ("Egypt", "Ägypten", "Égypte", "Egitto", "Egipto", "エジプト", "埃及")),
    Marketplace("A21TJRUUN4KGV", "www.amazon.in", ("India", "Indien", "Inde", "インド", "印度")),
    Marketplace("A1VC38T7YXB528", "www.amazon.co.jp",
                ("Japan", "日本", "Japon", "Giappone", "Japón")),
    Marketplace("A39IBJ37TRP1C6", "www.amazon.com.au",
                ("Australia", "Australien", "Australie", "オーストラリア", "澳大利亚")),
    Marketplace("A19VAU5U5O7RUS", "www.amazon.sg",
                ("Singapore", "Singapur", "Singapour", "シンガポール", "新加坡")),
)

_BY_NAME = {key(name): m for m in MARKETPLACES for name in m.names}
_BY_HOST = {m.host: m for m in MARKETPLACES}
_BY_ID = {m.id: m for m in MARKETPLACES}


def by_name(name: str | None) -> Marketplace | None:
    """The marketplace a name stands for (in any of the languages listed), if known."""
    return _BY_NAME.get(key(name)) if name else None


def by_host(host: str | None) -> Marketplace | None:
    """The marketplace of a retail host ('www.amazon.es', 'amazon.es'), if known."""
    if not host:
        return None
    text = host.strip().casefold().removeprefix("https://").removeprefix("http://")
    text = text.split("/", 1)[0]
    return _BY_HOST.get(text if text.startswith("www.") else f"www.{text}")


def by_id(marketplace_id: str | None) -> Marketplace | None:
    """The marketplace of an id ('ATVPDKIKX0DER'), if known."""
    return _BY_ID.get(marketplace_id.strip()) if marketplace_id else None
