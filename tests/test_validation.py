"""Everything the code needs is checked before the browser starts (issue 10, findings 8, 9).

A selectors file without a key the page objects declare, an http:// Seller Central, a
folder that cannot be written, misspelt keys: exit 2 with every problem named. An
untrusted IMAP certificate is configuration (not retried); a refused IMAP login texts the
owner.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rpa.browser.selectors import Selectors, declared_keys, default_selectors_file
from rpa.cli import app
from rpa.config import is_loopback, parse_config
from rpa.errors import ConfigError
from rpa.mail.imap import Mailbox, MailCertificateError, MailLoginRefused
from rpa.practice import dovecot
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import EXIT_CONFIG, run
from rpa.seller_central import home, messages, pages, picker, selectcheck, signin
from tests.conftest import Sandbox

ROOT = Path(__file__).resolve().parents[1]


def _without(key: str, dest: Path) -> Path:
    """selectors.yaml with ``key`` (``ns.name``) taken out, written to ``dest``."""
    data = yaml.safe_load(default_selectors_file().read_text())
    ns, name = key.split(".")
    del data[ns][name]
    dest.write_text(yaml.safe_dump(data, allow_unicode=True))
    return dest


def _config_file(cfg: Any, dest: Path) -> Path:
    data = cfg.model_dump(mode="json", exclude={"source"})
    dest.write_text(yaml.safe_dump(data, allow_unicode=True))
    return dest


# ---- finding 8: selectors keys declared by the page objects ---------------------------

def test_missing_selector_key_exits_2_before_any_request(sandbox: Sandbox, make_config: Any,
                                                         tmp_path: Path) -> None:
    sandbox.reset("messages")
    before = sandbox.state()["counters"]
    sel = _without("thread.send", tmp_path / "selectors.yaml")
    data = yaml.safe_load(sel.read_text())
    del data["mfa"]["code"]
    sel.write_text(yaml.safe_dump(data, allow_unicode=True))
    cfg = make_config(flows=["buyer_messages"], paths={
        "state_dir": str(tmp_path / "state"), "recordings_dir": str(tmp_path / "rec"),
        "selectors_file": str(sel)})
    with pytest.raises(ConfigError) as info:
        run(cfg)
    msg = str(info.value)
    assert "thread.send (used by messages)" in msg and "mfa.code (used by signin)" in msg
    assert str(sel) in msg
    # the CLI says so with exit 2 and no traceback
    result = CliRunner().invoke(app, ["run", "--config", str(_config_file(cfg, tmp_path /
                                                                           "rpa.yaml"))])
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "thread.send" in result.output and "Traceback" not in result.output
    assert sandbox.state()["counters"] == before, "no request reached Seller Central"
    assert not (tmp_path / "rec").exists(), "no run folder: nothing started"


def test_page_objects_declare_every_key_they_name() -> None:
    """A key named in a page object's source but not in its SELECTOR_KEYS would escape the
    check before the browser; so would a declared key the shipped file lacks."""
    known = set(Selectors.load().keys)
    namespaces = {k.split(".")[0] for k in known}
    names = "|".join(namespaces)
    literal = re.compile(rf"[\"']((?:{names})\.[a-z][a-z0-9_]*)[\"']")
    for module in (pages, signin, picker, home, messages, selectcheck):
        source = Path(module.__file__ or "").read_text()
        named = set(literal.findall(source))
        assert named <= set(module.SELECTOR_KEYS), (module.__name__,
                                                    named - set(module.SELECTOR_KEYS))
    assert set(declared_keys(with_check=True)) <= known


# ---- finding 9: configuration gaps ----------------------------------------------------

def _base(**account: Any) -> dict[str, Any]:
    acc = {"name": "main", "email": "seller@example.com", "password_env": "P",
           "totp_secret_env": "T", **account}
    return {"accounts": [acc], "va": {"full_name": "Maria Santos", "initials": "MS"}}


@pytest.mark.parametrize("url", ["http://sellercentral.amazon.com",
                                 "http://10.0.0.5:8080", "HTTP://seller.example"])
def test_plain_http_refused_for_another_machine(url: str) -> None:
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.base_url: .*https://"):
        parse_config(_base(base_url=url), "rpa.yaml")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://127.5.6.7",
                                 "http://localhost:9", "http://[::1]:8080",
                                 "https://sellercentral.amazon.de"])
def test_https_or_this_machine_accepted(url: str) -> None:
    assert parse_config(_base(base_url=url), "rpa.yaml").accounts[0].base_url == url


def test_loopback_hosts() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.255.0.1") and is_loopback("::1")
    assert is_loopback("LOCALHOST") and not is_loopback("localhost.example.com")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.com")


def test_every_problem_shown_with_did_you_mean() -> None:
    data = _base()
    acc = data["accounts"][0]
    acc["pasword_env"] = acc.pop("password_env")
    data["va"]["initals"] = data["va"].pop("initials")
    data["mailbox"] = {"host": "imap.example.com", "user": "u", "password_env": "M",
                       "chunk_sise": 10}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "rpa.yaml")
    msg = str(info.value)
    assert "more problem" not in msg
    assert "accounts[0].pasword_env: unknown key; did you mean 'password_env'?" in msg
    assert "accounts[0].password_env: Field required" in msg
    assert "va.initals: unknown key; did you mean 'initials'?" in msg
    assert "mailbox.chunk_sise: unknown key; did you mean 'chunk_size'?" in msg
    assert msg.startswith("rpa.yaml: 5 problems:")


def test_unknown_key_without_a_near_name_lists_the_known_ones() -> None:
    data = _base()
    data["va"]["zzz"] = 1
    with pytest.raises(ConfigError, match=r"va\.zzz: unknown key \(known here: full_name, "
                                          r"initials\)"):
        parse_config(data, "rpa.yaml")


def test_unwritable_state_folder_is_exit_2_naming_it(make_config: Any, tmp_path: Path,
                                                     sandbox: Sandbox) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    cfg = make_config(paths={"state_dir": str(blocker / "state"),
                             "recordings_dir": str(tmp_path / "rec")})
    with pytest.raises(ConfigError, match=r"paths\.state_dir: .*not-a-folder is not a folder"):
        run(cfg)
    result = CliRunner().invoke(app, ["run", "--config",
                                      str(_config_file(cfg, tmp_path / "rpa.yaml"))])
    assert result.exit_code == EXIT_CONFIG and "Traceback" not in result.output
    assert "paths.state_dir" in result.output


def test_recordings_folder_that_cannot_be_created_is_exit_2_naming_it(
        make_config: Any, tmp_path: Path) -> None:
    """Also as root (who writes anywhere): a file where the recordings folder must go."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cfg = make_config(paths={"state_dir": str(tmp_path / "state"),
                             "recordings_dir": str(blocker / "rec")})
    with pytest.raises(ConfigError, match=r"paths\.recordings_dir: .*a-file is not a folder"):
        run(cfg)
    result = CliRunner().invoke(app, ["run", "--config",
                                      str(_config_file(cfg, tmp_path / "rpa.yaml"))])
    assert result.exit_code == EXIT_CONFIG and "Traceback" not in result.output
    assert "paths.recordings_dir" in result.output


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root writes anywhere")
def test_read_only_recordings_folder_is_refused(make_config: Any, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    cfg = make_config(paths={"state_dir": str(tmp_path / "state"),
                             "recordings_dir": str(ro / "rec")})
    with pytest.raises(ConfigError, match=r"paths\.recordings_dir: .* not writable"):
        run(cfg)


def test_ca_file_must_exist(tmp_path: Path) -> None:
    data = _base()
    data["mailbox"] = {"host": "imap.example.com", "user": "u", "password_env": "M",
                       "ca_file": str(tmp_path / "missing.pem")}
    with pytest.raises(ConfigError, match=r"mailbox\.ca_file: .*missing\.pem is not a file"):
        parse_config(data, "rpa.yaml")


# ---- IMAP certificates: a tiny TLS server on loopback with a self-signed certificate ----

@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture()
def tls_imap(self_signed: tuple[Path, Path]) -> Iterator[tuple[int, list[str]]]:
    """An IMAP greeting over TLS that refuses every login; the port and what it heard."""
    cert, key = self_signed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    heard: list[str] = []
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            accepted.append(raw)
            try:
                with ctx.wrap_socket(raw, server_side=True) as conn:
                    accepted.append(conn)  # raw's descriptor is conn's now
                    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
                    for line in conn.makefile("rb"):
                        text = line.decode(errors="replace")
                        heard.append(text)
                        tag, _, command = text.partition(" ")
                        if command.upper().startswith("CAPABILITY"):
                            conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
                                         + f"{tag} OK done\r\n".encode())
                        elif command.upper().startswith("LOGIN"):
                            conn.sendall(f"{tag} NO [AUTHENTICATIONFAILED] no\r\n".encode())
                        else:
                            conn.sendall(f"{tag} BAD not here\r\n".encode())
            except (OSError, ssl.SSLError):
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], heard
    stop.set()
    # A close alone wakes neither a thread blocked in accept() nor one reading a client
    # that left its connection open (it waited out join's 5 s); a shutdown does, at once.
    for sock in (listener, *accepted):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(5)


def test_untrusted_certificate_is_configuration_and_ca_file_trusts_it(
        tls_imap: tuple[int, list[str]], self_signed: tuple[Path, Path]) -> None:
    port, heard = tls_imap
    box = Mailbox("127.0.0.1", port, "support", "secret", tls=True, timeout=5)
    with pytest.raises(MailCertificateError) as info:
        box.connect()
    assert isinstance(info.value, ConfigError) and "mailbox.ca_file" in str(info.value)
    assert heard == [], "nothing was sent over an untrusted connection"
    # the private CA trusted: the connection is made and the login is refused as such
    box = Mailbox("127.0.0.1", port, "support", "secret", tls=True, timeout=5,
                  ca_file=str(self_signed[0]))
    with pytest.raises(MailLoginRefused):
        box.connect()
    assert any(" LOGIN " in line.upper() for line in heard)


def test_certificate_error_stops_the_mailbox_with_exit_2_not_retried(
        tls_imap: tuple[int, list[str]], make_config: Any, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    port, heard = tls_imap
    monkeypatch.setenv("T_MAIL_PASSWORD", "secret")
    cfg = make_config(flows=["mailbox"], mailbox={
        "host": "127.0.0.1", "port": port, "user": "support", "password_env": "T_MAIL_PASSWORD",
        "timeout_s": 5})
    result = run(cfg)
    assert result.exit_code == EXIT_CONFIG
    mailbox = result.data["flows"]["mailbox"]
    assert mailbox["status"] == "failed" and mailbox["attempts"] == 1
    assert result.data["errors"][0]["type"] == "MailCertificateError"
    assert result.data["errors"][0]["kind"] == "config"
    assert heard == []


@pytest.mark.skipif(not dovecot.available()[0], reason="Dovecot is not available")
def test_wrong_imap_password_texts_the_owner(make_config: Any, receiver: Receiver,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused login is a person's matter: not retried, the run ends 'needs a person'
    and the owner gets the end-of-run text (with a real Dovecot)."""
    with dovecot.DovecotServer() as server:
        server.start()
        monkeypatch.setenv("T_MAIL_PW", server.password + "-wrong")
        cfg = make_config(flows=["mailbox"], mailbox={
            "host": server.host, "port": server.port, "tls": False, "user": server.user,
            "password_env": "T_MAIL_PW"})
        result = run(cfg)
    assert result.status == "needs_person" and result.exit_code == 3
    assert result.data["flows"]["mailbox"]["attempts"] == 1
    assert result.data["errors"][0]["type"] == "MailLoginRefused"
    sms = receiver.messages("sms")
    assert len(sms) == 1 and "The mailbox needs a person" in sms[0] and sms[0].endswith("-MS"), sms
    assert result.data["run_alert"]["delivered"] is True
