"""Each flow asks only for its own secrets, and the TOTP key is checked by pyotp's real rule."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from rpa.config import check_secrets, needed_secrets, parse_config
from rpa.errors import ConfigError
from rpa.otp import min_secret_bits, min_secret_chars, secret_problem, totp

KEY_32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
KEY_16 = KEY_32[:16]  # 80 bits


def config(**extra: Any) -> Any:
    data = {
        "accounts": [{"name": "a", "email": "s@example.com", "password_env": "X_PW",
                      "totp_secret_env": "X_TOTP"}],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "notify": {"sms": {"url_env": "X_SMS"}},
        "mailbox": {"host": "127.0.0.1", "port": 143, "tls": False, "user": "u",
                    "password_env": "X_MAIL"},
        **extra,
    }
    return parse_config(data, "s.yaml")


def test_the_installed_pyotp_refuses_what_the_rule_refuses() -> None:
    """The rule is read from pyotp, and pyotp agrees with it at the boundary."""
    bits = min_secret_bits()
    need = min_secret_chars(bits)
    assert bits == 112 and need == 23  # pyotp >= 2.10: 112 bits, so 23 base32 characters
    pyotp.TOTP(KEY_32[:need]).now()
    with pytest.raises(ValueError, match="112 bits"):
        pyotp.TOTP(KEY_16)
    assert secret_problem(KEY_32[:need]) is None


@pytest.mark.parametrize(("secret", "words"), [
    (KEY_16, ["16 characters (80 bits)", "at least 23 characters (112 bits",
              "copied"]),
    (KEY_32[:22], ["22 characters cannot be a whole base32 key"]),
    (KEY_32[:31] + "1", ["1 of its 32 characters is not base32", "A-Z and digits 2-7"]),
    ("   ", ["empty"]),
])
def test_a_refused_totp_secret_states_the_rule(secret: str, words: list[str]) -> None:
    problem = secret_problem(secret)
    assert problem is not None
    for word in words:
        assert word in problem
    with pytest.raises(ConfigError) as err:
        totp(secret, key="accounts[0].totp_secret_env", source="s.yaml")
    assert str(err.value).startswith("s.yaml: accounts[0].totp_secret_env: ")
    assert "not valid base32" not in str(err.value)
    if len(secret.strip()) >= 16:
        assert secret not in str(err.value), "the key is never echoed"


@pytest.mark.parametrize("secret", [
    KEY_32, KEY_32.lower(), " ".join(KEY_32[i:i + 4] for i in range(0, 32, 4)),
    KEY_32[:23], KEY_32[:23] + "=",
])
def test_accepted_totp_secrets_give_the_same_codes(secret: str) -> None:
    assert secret_problem(secret) is None
    want = pyotp.TOTP(KEY_32 if len(secret.replace(" ", "")) >= 32 else KEY_32[:23])
    assert totp(secret).at(1_700_000_000) == want.at(1_700_000_000)


def test_each_flow_asks_only_for_its_own_secrets() -> None:
    cfg = config()
    acc = cfg.accounts[0]
    assert set(needed_secrets(cfg, acc, ["mailbox"])) == {"mailbox.password", "notify.sms"}
    assert set(needed_secrets(cfg, acc, ["login", "dashboard"])) == {
        "password", "totp_secret", "notify.sms"}
    assert set(needed_secrets(cfg, acc, None)) == {
        "password", "totp_secret", "notify.sms", "mailbox.password"}
    assert needed_secrets(cfg, acc, ["mailbox"])["mailbox.password"] == (
        "X_MAIL", "mailbox.password_env")


def test_check_secrets_for_a_mailbox_run(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config()
    for var in ("X_PW", "X_TOTP"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("X_SMS", "json://127.0.0.1:9/x")
    monkeypatch.setenv("X_MAIL", "mail-pw")
    assert check_secrets(cfg, cfg.accounts[0], ["mailbox"]) == {
        "notify.sms": "json://127.0.0.1:9/x", "mailbox.password": "mail-pw"}
    with pytest.raises(ConfigError) as err:
        check_secrets(cfg, cfg.accounts[0], ["login", "mailbox"])
    assert "X_PW" in str(err.value) and "accounts[0].password_env" in str(err.value)
    monkeypatch.delenv("X_MAIL")
    with pytest.raises(ConfigError, match="mailbox.password_env"):
        check_secrets(cfg, cfg.accounts[0], ["mailbox"])


def test_folder_names_default_to_discovery_and_must_not_be_empty() -> None:
    cfg = config()
    assert cfg.mailbox.spam_folders == [] and cfg.mailbox.trash_folders == []
    box = {"host": "127.0.0.1", "user": "u", "password_env": "X_MAIL", "tls": False,
           "spam_folders": ["INBOX.Junk", " "]}
    with pytest.raises(ConfigError) as err:
        config(mailbox=box)
    assert "mailbox.spam_folders" in str(err.value) and "empty" in str(err.value)
