"""Sending the reply to an escalated email over SMTP, against real servers on loopback.

aiosmtpd listens on 127.0.0.1 (plaintext, implicit TLS or STARTTLS with a private CA made
here with openssl); what arrives is read back and checked: the reply's threading headers,
its recipient, the quoted original, and how every failure is reported.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from rpa.mail.replying import compose_reply
from rpa.practice.smtpserver import SmtpServer
from rpa.smtp import SmtpError, SmtpSettings, is_loopback, new_message_id, send

FROM = "support@shop.example"

ORIGINAL = (
    b"Return-Path: <bounce-77@mailer.supplier.example>\r\n"
    b"From: Billing Team <billing@supplier.example>\r\n"
    b"Reply-To: Accounts Receivable <ar@supplier.example>\r\n"
    b"To: support@shop.example\r\n"
    b"Subject: =?utf-8?q?Invoice_42_=E2=80=93_payment_overdue?=\r\n"
    b"Date: Thu, 26 Nov 2026 09:30:00 +0100\r\n"
    b"Message-ID: <inv42.reminder@supplier.example>\r\n"
    b"In-Reply-To: <inv42.first@supplier.example>\r\n"
    b"References: <inv42.thread@supplier.example>\r\n"
    b" <inv42.first@supplier.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hello,\r\n"
    b"\r\n"
    b"invoice 42 (\xe2\x82\xac 180.00) is now 14 days overdue.\r\n"
    b"Please confirm the payment date.\r\n"
    b"\r\n"
    b"-- \r\n"
    b"Supplier Ltd billing\r\n"
)

TRICK = (
    b'From: "support@amazon.com" <x@evil.example>\r\n'
    b"To: support@shop.example\r\n"
    b"Subject: RE: Your account\r\n"
    b"Date: Thu, 26 Nov 2026 11:00:00 +0000\r\n"
    b"\r\n"
    b"Click here to verify your account.\r\n"
)


@pytest.fixture()
def server() -> Iterator[SmtpServer]:
    srv = SmtpServer().start()
    yield srv
    srv.stop()


def plain(port: int, **kw: Any) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, security="none", from_addr=FROM,
                        from_name="Shop Support", timeout_s=10, **kw)


def reply(original: bytes = ORIGINAL, answer: str = "We pay on Monday.") -> Any:
    return compose_reply(original, answer, from_addr=FROM, from_name="Shop Support")


# ---------------------------------------------------------------------------- the reply


def test_the_reply_arrives_threaded_with_the_original_quoted(server: SmtpServer) -> None:
    sent_id = send(plain(server.port), reply())
    assert server.wait_for(1)
    [msg] = server.messages()
    [(mail_from, rcpts)] = server.envelopes()
    assert mail_from == FROM and rcpts == ["ar@supplier.example"]  # Reply-To wins
    assert msg["To"] == "Accounts Receivable <ar@supplier.example>"
    assert msg["From"] == "Shop Support <support@shop.example>"
    assert msg["Subject"] == "Re: Invoice 42 – payment overdue"
    assert msg["Message-ID"] == sent_id
    assert re.fullmatch(r"<\d+\.[0-9a-f]{32}@shop\.example>", sent_id)
    assert msg["In-Reply-To"] == "<inv42.reminder@supplier.example>"
    assert str(msg["References"]).split() == [
        "<inv42.thread@supplier.example>", "<inv42.first@supplier.example>",
        "<inv42.reminder@supplier.example>"]
    assert msg["Date"]
    assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
    assert msg.get_content_charset() == "utf-8"
    body = msg.get_content().replace("\r\n", "\n")  # as it came over the wire
    assert body.startswith("We pay on Monday.\n\n")
    assert ("On Thu, 26 Nov 2026 09:30:00 +0100, Billing Team <billing@supplier.example> "
            "wrote:") in body
    assert "> invoice 42 (€ 180.00) is now 14 days overdue." in body
    assert "> Please confirm the payment date." in body
    assert "Supplier Ltd billing" not in body  # the original's signature is not quoted


def test_a_display_name_trick_is_answered_at_the_real_address(server: SmtpServer) -> None:
    msg = reply(TRICK, "This is not from Amazon.")
    assert msg["To"] == "x@evil.example"  # neither the shown address nor the shown name
    assert msg["Subject"] == "RE: Your account"  # already a reply: not "Re: RE:"
    assert msg["In-Reply-To"] is None and msg["References"] is None  # no Message-ID given
    send(plain(server.port), msg)
    assert server.wait_for(1)
    assert server.envelopes() == [(FROM, ["x@evil.example"])]
    assert "support@amazon.com" not in server.messages()[0]["To"]


def test_no_usable_address_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no address to reply to.*From"):
        reply(b"From: Someone without an address\r\nSubject: hi\r\n\r\nhello\r\n")
    with pytest.raises(ValueError, match="no address to reply to"):
        reply(b"Subject: hi\r\n\r\nhello\r\n")


def test_a_long_thread_keeps_the_first_and_the_latest_references() -> None:
    refs = " ".join(f"<m{i}@x.example>" for i in range(40))
    original = (f"From: a@x.example\r\nSubject: s\r\nMessage-ID: <m40@x.example>\r\n"
                f"References: {refs}\r\n\r\nbody\r\n").encode()
    ids = str(reply(original)["References"]).split()
    assert len(ids) == 20 and ids[0] == "<m0@x.example>" and ids[-1] == "<m40@x.example>"
    assert ids[-2] == "<m39@x.example>"


def test_a_long_original_is_quoted_only_in_part() -> None:
    original = b"From: a@x.example\r\nSubject: s\r\n\r\n" + b"word " * 10000 + b"\r\n"
    body = reply(original).get_content()
    assert len(body) < 25000
    assert "not quoted" in body.splitlines()[-1]


def test_date_and_message_id_are_set_only_when_missing(server: SmtpServer) -> None:
    msg = reply()
    del msg["Message-ID"]
    del msg["Date"]
    del msg["From"]
    sent_id = send(plain(server.port), msg)
    assert server.wait_for(1)
    got = server.messages()[0]
    assert got["Message-ID"] == sent_id and got["Date"]
    assert got["From"] == "Shop Support <support@shop.example>"
    mine = reply()
    mine.replace_header("Message-ID", "<kept.1@shop.example>")
    assert send(plain(server.port), mine) == "<kept.1@shop.example>"


# ---------------------------------------------------------------------------- refusals, outages


@pytest.mark.parametrize(("code", "permanent"), [(451, False), (550, True)])
def test_a_refusal_is_an_error_with_its_code(server: SmtpServer, code: int,
                                             permanent: bool) -> None:
    server.refuse_next(1, code, "refused for the test")
    with pytest.raises(SmtpError) as caught:
        send(plain(server.port), reply())
    err = caught.value
    assert err.code == code and err.permanent is permanent
    assert f"127.0.0.1:{server.port}" in str(err) and "refused for the test" in str(err)
    assert server.refused == 1 and server.messages() == []
    send(plain(server.port), reply())  # the next one goes through
    assert server.wait_for(1) and len(server.messages()) == 1


def test_a_server_down_then_up_delivers_once(server: SmtpServer) -> None:
    port = server.port
    server.stop()
    msg = reply()
    with pytest.raises(SmtpError) as caught:
        send(plain(port), msg)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "refused" in str(caught.value) and caught.value.code is None
    assert not caught.value.permanent
    server.start()
    assert server.port == port
    sent_id = send(plain(port), msg)
    assert server.wait_for(1)
    assert [m["Message-ID"] for m in server.messages()] == [sent_id]


def test_plaintext_to_a_remote_host_is_refused_before_connecting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("no connection or name lookup may happen")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    settings = SmtpSettings(host="smtp.example.com", port=25, security="none", from_addr=FROM)
    with pytest.raises(SmtpError, match="smtp.example.com:25.*plaintext") as caught:
        send(settings, reply())
    assert caught.value.retryable is False


def test_plaintext_is_allowed_to_a_remote_host_only_when_asked(server: SmtpServer) -> None:
    # "localhost" is loopback; allow_plaintext would be needed for any other name
    send(SmtpSettings(host="localhost", port=server.port, security="none", from_addr=FROM),
         reply())
    assert server.wait_for(1)


def test_unknown_security_is_refused() -> None:
    with pytest.raises(SmtpError, match="unknown security"):
        send(SmtpSettings(host="127.0.0.1", port=1, security="ssl", from_addr=FROM), reply())


def test_tls_against_a_plaintext_server_fails_without_sending(server: SmtpServer) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=server.port, security="tls",
                            from_addr=FROM, timeout_s=10)
    with pytest.raises(SmtpError, match=f"127.0.0.1:{server.port}.*TLS"):
        send(settings, reply())
    assert server.messages() == []


def test_starttls_is_required_when_asked(server: SmtpServer) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=server.port, security="starttls",
                            from_addr=FROM, timeout_s=10)
    with pytest.raises(SmtpError, match="does not offer STARTTLS"):
        send(settings, reply())
    assert server.messages() == []


# ---------------------------------------------------------------------------- TLS with a private CA


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path
    other_cert: Path  # issued by the same CA for another host name
    other_key: Path

    def context(self, other: bool = False) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if other:
            ctx.load_cert_chain(self.other_cert, self.other_key)
        else:
            ctx.load_cert_chain(self.cert, self.key)
        return ctx


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def _issue(tmp: Path, name: str, san: str) -> tuple[Path, Path]:
    key, csr, cert, ext = (tmp / f"{name}.key", tmp / f"{name}.csr", tmp / f"{name}.pem",
                           tmp / f"{name}.ext")
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                   "extendedKeyUsage=serverAuth\n")
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", f"/CN={name}", cwd=tmp)
    _openssl("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", cert,
             cwd=tmp)
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a private CA")
    tmp = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=Test SMTP CA", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign", cwd=tmp)
    cert, key = _issue(tmp, "smtp-loopback", "DNS:localhost,IP:127.0.0.1")
    other_cert, other_key = _issue(tmp, "smtp-other", "DNS:mail.other.example")
    return Pki(tmp / "ca.pem", cert, key, other_cert, other_key)


def test_implicit_tls_with_a_private_ca_delivers(pki: Pki) -> None:
    with SmtpServer(tls=pki.context()) as srv:
        settings = SmtpSettings(host="127.0.0.1", port=srv.port, security="tls",
                                from_addr=FROM, ca_file=str(pki.ca), timeout_s=10)
        send(settings, reply())
        assert srv.wait_for(1)


def test_an_untrusted_certificate_is_refused(pki: Pki) -> None:
    with SmtpServer(tls=pki.context()) as srv:
        settings = SmtpSettings(host="127.0.0.1", port=srv.port, security="tls",
                                from_addr=FROM, timeout_s=10)  # the CA is not trusted
        with pytest.raises(SmtpError, match="certificate check failed"):
            send(settings, reply())
        assert srv.messages() == []


def test_a_certificate_for_another_host_is_refused(pki: Pki) -> None:
    with SmtpServer(starttls=pki.context(other=True)) as srv:
        settings = SmtpSettings(host="127.0.0.1", port=srv.port, security="starttls",
                                from_addr=FROM, ca_file=str(pki.ca), timeout_s=10)
        with pytest.raises(SmtpError, match="certificate check failed.*mismatch"):
            send(settings, reply())
        assert srv.messages() == []


def test_starttls_and_login_deliver(pki: Pki) -> None:
    with SmtpServer(starttls=pki.context(), users={"shop": "s3cret-Pa55"}) as srv:
        settings = SmtpSettings(host="localhost", port=srv.port, security="starttls",
                                from_addr=FROM, user="shop", password="s3cret-Pa55",
                                ca_file=str(pki.ca), timeout_s=10)
        send(settings, reply())
        assert srv.wait_for(1)
        assert srv.logins == ["shop"]


# ---------------------------------------------------------------------------- secrets


def test_the_password_never_shows(server: SmtpServer) -> None:
    password = "Wr0ng-Pa55word-xyz"
    with SmtpServer(users={"shop": "the-right-one"}) as srv:
        settings = plain(srv.port, user="shop", password=password)
        assert password not in repr(settings)
        lines: list[str] = []
        sink = logger.add(lines.append, level="DEBUG", format="{message}\n{exception}",
                          backtrace=False, diagnose=False)
        try:
            with pytest.raises(SmtpError) as caught:
                send(settings, reply())
            logger.opt(exception=caught.value).error("delivery failed: {}", caught.value)
        finally:
            logger.remove(sink)
        err = caught.value
        assert err.code == 535 and not err.permanent and not err.retryable
        assert "login refused" in str(err) and f"127.0.0.1:{srv.port}" in str(err)
        logged = "".join(lines)
        assert "delivery failed" in logged and "login refused" in logged
        for text in (str(err), repr(err), logged):
            assert password not in text
        assert srv.logins == [] and srv.messages() == []


# ---------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True), ("127.8.9.10", True),
    ("::1", True), ("[::1]", True), ("::ffff:127.0.0.1", True),
    ("smtp.example.com", False), ("10.0.0.1", False), ("128.0.0.1", False),
    ("localhost.example.com", False), ("mail.localhost", False), ("", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_new_message_ids_are_unique_and_on_the_sender_domain() -> None:
    ids = {new_message_id("Support@Shop.Example") for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"<\d+\.[0-9a-f]{32}@shop\.example>", i) for i in ids)
    assert new_message_id("no-domain").endswith("@localhost>")
    assert new_message_id("a@bücher.example").endswith("@xn--bcher-kva.example>")
