"""Twelve sandbox sellers for the demo of scale (``rpa demo --accounts N``, N up to 12).

``twelve-sellers`` is ``six-sellers`` word for word, then six more sellers, each with a
login, names, figures and buyer messages of its own; the demo serves ``six-sellers`` up to
six accounts (as it always did) and ``twelve-sellers`` from seven to twelve. No browser
runs here: the files are loaded and validated, and twelve sandboxes answer over HTTP.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
import yaml

from rpa.config import Config
from rpa.practice.sandbox import ScenarioError, SellersSandbox, load_sellers
from rpa.practice.sandbox.sellers import SELLERS_DIR
from rpa.practice.scale import account_name, run_scale_demo, sellers_file
from rpa.run.fleet import Job, Outcome

TWELVE = "twelve-sellers"


def _raw(name: str) -> list[dict[str, Any]]:
    entries = yaml.safe_load((SELLERS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    return list(entries["sellers"])


def test_the_twelve_sellers_load_as_scenarios_each_of_its_own() -> None:
    sellers = load_sellers(TWELVE)
    assert [s.name for s in sellers] == [f"{TWELVE}/{n}" for n in range(1, 13)]

    def distinct(values: list[Any]) -> None:
        assert len(set(values)) == len(values), sorted(v for v in values if values.count(v) > 1)

    distinct([s.seller.email.lower() for s in sellers])
    distinct([s.seller.password for s in sellers])
    distinct([s.seller.totp_secret for s in sellers])
    distinct([a.name for s in sellers for a in s.accounts])
    distinct([a.merchant_id for s in sellers for a in s.accounts])
    distinct([account_name(s.accounts[0].name) for s in sellers])  # the demo's accounts
    distinct([t.thread_id for s in sellers for t in s.threads])
    distinct([m.text for s in sellers for t in s.threads for m in t.messages])
    distinct([o.order_id for s in sellers for o in s.unshipped_orders])
    for s in sellers:
        secret = s.seller.totp_secret
        assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) >= 16, s.name
        assert pyotp.TOTP(secret).now().isdigit()
        assert s.threads, f"{s.name}: no buyer messages"
    # The six more differ from each other in figures and standing, as the first six do.
    more = sellers[6:]
    assert len({len(s.unshipped_orders) for s in more}) >= 4
    assert {s.overall for s in more} == {s.overall for s in sellers[:6]}
    assert {s.layout for s in more} == {s.layout for s in sellers[:6]}


def test_the_first_six_are_six_sellers_word_for_word() -> None:
    twelve, six = _raw(TWELVE), _raw("six-sellers")
    assert len(six) == 6 and len(twelve) == 12
    assert twelve[:6] == six
    # The six more start from the same bundled scenarios and replace the same keys.
    assert [e["base"] for e in twelve[6:]] == [e["base"] for e in six]
    assert all(set(e) == set(six[n]) for n, e in enumerate(twelve[6:]))
    loaded = load_sellers(TWELVE)[:6]
    for mine, theirs in zip(loaded, load_sellers("six-sellers"), strict=True):
        assert mine.model_dump(exclude={"name"}) == theirs.model_dump(exclude={"name"})


@pytest.mark.parametrize(("count", "expected"), [
    (1, "six-sellers"), (6, "six-sellers"), (7, TWELVE), (12, TWELVE), (13, TWELVE)])
def test_the_demo_serves_six_sellers_up_to_six_and_twelve_sellers_beyond(
        count: int, expected: str) -> None:
    assert sellers_file(count) == expected


def test_more_than_twelve_are_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"twelve-sellers\.yaml has 12 sellers: ask for 1 "
                                            r"to 12"):
        run_scale_demo(13, home=tmp_path / "demo", run=lambda cfg, jobs: [])
    assert not (tmp_path / "demo").exists()


def _get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.geturl(), resp.read().decode()


def test_twelve_sellers_each_answer_their_sign_in_page_on_a_port_of_their_own() -> None:
    with SellersSandbox(TWELVE, count=12) as fleet:
        assert len(fleet.servers) == 12
        ports = [urlsplit(s.url).port for s in fleet.servers]
        assert len(set(ports)) == 12
        for n, server in enumerate(fleet.servers, start=1):
            landed, page = _get(server.url + "/home")  # not signed in: the sign-in page
            assert urlsplit(landed).port == urlsplit(server.url).port
            assert urlsplit(landed).path == "/ap/signin", landed
            assert "<title>Amazon Sign-In</title>" in page and 'name="email"' in page
            _, state = _get(server.url + "/__sandbox/state")
            assert json.loads(state)["scenario"] == f"{TWELVE}/{n}"


def test_the_demo_of_twelve_gives_each_seller_an_account_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(1, 13):  # the demo puts its secrets in the environment: undone after
        for what in ("SC_PASSWORD", "SC_TOTP", "SMS_URL", "DETAILS_URL"):
            monkeypatch.setenv(f"RPA_DEMO_{what}_{n}", "")
    seen: dict[str, Any] = {}

    def run(cfg: Config, jobs: list[Job]) -> list[Outcome]:  # instead of browsers
        seen["accounts"] = [(a.name, a.base_url, a.email) for a in cfg.accounts]
        seen["jobs"] = [j.account for j in jobs]
        seen["signin"] = [_get(a.base_url + "/home")[0] for a in cfg.accounts]
        return []

    done = run_scale_demo(12, home=tmp_path / "demo", run=run)
    assert os.environ["RPA_DEMO_SC_TOTP_12"] == load_sellers(TWELVE)[11].seller.totp_secret
    sellers = load_sellers(TWELVE)
    names = [account_name(s.accounts[0].name) for s in sellers]
    assert [name for name, _, _ in seen["accounts"]] == names == seen["jobs"]
    assert [email for _, _, email in seen["accounts"]] == [s.seller.email for s in sellers]
    assert len({url for _, url, _ in seen["accounts"]}) == 12
    assert all(urlsplit(u).path == "/ap/signin" for u in seen["signin"])
    assert list(done.received) == names
    assert done.folder.is_dir()
