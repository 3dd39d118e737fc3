"""Pure unit tests: configuration, selectors file, texts, status words, one-time codes."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
import yaml

from flows.performance import summary_text
from rpa.browser.selectors import Selectors, default_selectors_file, parse_selectors
from rpa.config import check_secrets, load_config, parse_config
from rpa.errors import ConfigError, PageError
from rpa.otp import fresh_code
from rpa.owner.notify import Notifier
from rpa.run.registry import plan
from rpa.seller_central.home import parse_count

GOOD = {
    "accounts": [{"name": "main", "email": "a@b.c", "password_env": "X_PW",
                  "totp_secret_env": "X_TOTP"}],
    "va": {"full_name": "Maria Santos", "initials": "MS"},
}


def test_config_unknown_key_names_file_and_path() -> None:
    bad = {**GOOD, "browser": {"headles": True}}
    with pytest.raises(ConfigError) as err:
        parse_config(bad, "my.yaml")
    assert "my.yaml" in str(err.value)
    assert "browser.headles" in str(err.value)
    assert "unknown key" in str(err.value)


def test_config_wrong_type_names_list_index() -> None:
    bad = {**GOOD, "accounts": [{**GOOD["accounts"][0], "base_url": "not a url"}]}
    with pytest.raises(ConfigError) as err:
        parse_config(bad, "my.yaml")
    assert "accounts[0].base_url" in str(err.value)
    assert "http" in str(err.value)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("accounts: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parent.parent / "rpa.example.yaml"
    cfg = load_config(example)
    assert cfg.accounts[0].password_env
    assert cfg.notify.sms is not None


def test_missing_secret_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_PW", raising=False)
    monkeypatch.setenv("X_TOTP", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    cfg = parse_config(GOOD, "my.yaml")
    with pytest.raises(ConfigError) as err:
        check_secrets(cfg, cfg.accounts[0])
    assert "X_PW" in str(err.value)
    assert "accounts[0].password_env" in str(err.value)


def test_dotenv_is_read_but_environment_wins(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = tmp_path / "rpa.yaml"
    cfg_file.write_text(yaml.safe_dump(GOOD))
    (tmp_path / ".env").write_text(
        "X_PW=from-dotenv\nexport X_TOTP='JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'\n"
    )
    monkeypatch.delenv("X_PW", raising=False)
    monkeypatch.setenv("X_TOTP", "ALREADYSET")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(cfg_file)
    found = check_secrets(cfg, cfg.accounts[0])
    assert found["password"] == "from-dotenv"
    assert found["totp_secret"] == "ALREADYSET"
    assert cfg.paths.state_dir == tmp_path / "state"


def test_shipped_selectors_are_valid() -> None:
    sel = Selectors.load(default_selectors_file())
    for key in ("signin.email", "mfa.code", "home.unshipped_count", "health.metric_row"):
        assert key in sel


@pytest.mark.parametrize("entry, key, words", [
    ({"home": {"count": [{"xpath": "//a"}]}}, "home.count[0]", "unknown strategy"),
    ({"home": {"count": [{"css": "#a", "text": "b"}]}}, "home.count[0]", "exactly one"),
    ({"home": {"count": []}}, "home.count", "at least one"),
    ({"home": {"count": [{"role": "buttn", "name": "x"}]}}, "home.count[0]", "ARIA role"),
    ({"home": {"Count": [{"css": "#a"}]}}, "home.Count", "lower_snake_case"),
    ({"home": {"count": [{"text": "/(unclosed/"}]}}, "home.count[0]", "regular expression"),
])
def test_bad_selector_entries_name_their_key(entry: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_selectors(entry, "sel.yaml")
    assert key in str(err.value)
    assert words in str(err.value)
    assert "sel.yaml" in str(err.value)


def test_sms_text_is_signed_and_short() -> None:
    n = Notifier(initials="MS", urls={})
    assert n.sms_text("All good today") == "All good today -MS"
    long = n.sms_text("word " * 80, has_details=True)
    assert len(long) <= 160
    assert long.endswith(" -MS")
    assert "Check details for details." in long
    n2 = Notifier(initials="MS", urls={}, details_label="Upwork")
    assert "Check Upwork for details." in n2.sms_text("x " * 100, has_details=True)


def test_summary_text_names_areas() -> None:
    text = summary_text("At Risk", [{"name": "Late Shipment Rate", "value": "5.2%",
                                     "target": "< 4%"}])
    assert text == "Seller Performance is At Risk: Late Shipment Rate 5.2% (target < 4%)."


def test_parse_count() -> None:
    assert parse_count("Unshipped: 1,204") == 1204
    assert parse_count("7") == 7
    with pytest.raises(PageError):
        parse_count("none")


def test_fresh_code_waits_for_a_new_window() -> None:
    gen = pyotp.TOTP("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    now = [1_000_000 * 30 + 27.0]  # 3 s left in this window
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    code = fresh_code(gen, clock=lambda: now[0], wait=wait)
    assert waits, "should have waited for the next window"
    assert code == gen.at(1_000_001 * 30)
    again = fresh_code(gen, avoid=code, clock=lambda: now[0], wait=wait)
    assert again != code


def test_plan_puts_needs_first() -> None:
    names = [f.name for f in plan(["performance"])]
    assert names == ["login", "dashboard", "performance"]
    with pytest.raises(ConfigError, match="unknown flow 'nope'"):
        plan(["nope"])
