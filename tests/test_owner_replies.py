"""Reading the owner's answer by email: which code it answers, the owner's new words, the
ids it names, and whether the owner's domain authenticated it. Fast, pure unit tests."""

from __future__ import annotations

import pytest

from rpa.mail import auth
from rpa.mail.headers import parse_headers
from rpa.mail.replying import (
    answer_text,
    code_in,
    fresh_text,
    owner_verdict,
    readable_text,
    referenced_ids,
    reply_subject,
)
from rpa.smtp import alert_message

# ---------------------------------------------------------------------------- code_in


@pytest.mark.parametrize(("subject", "expected"), [
    ("Re: E004", "E004"),
    ("RE: [E004] Re: unknown email from a supplier", "E004"),
    ("AW: e004", "E004"),
    ("E004", "E004"),
    ("E004: unknown email from billing@supplier.example", "E004"),
    ("Re: Re: Fwd: B12345 buyer question", "B12345"),
    ("Re[2]: R002 - blocked reply", "R002"),
    ("SV: (F010) late shipment", "F010"),
    ("Antw: WG: TR: P123 performance", "P123"),
    ("[EXTERNAL] Re: E004", "E004"),
    ("fw: s00042 status", "S00042"),
    ("Question E004", None),
    ("Re: about E004", None),
    ("E04 too short", None),
    ("E123456 too long", None),
    ("X004 not a code letter", None),
    ("E004x glued to a word", None),
    ("", None),
])
def test_code_in_the_subject(subject: str, expected: str | None) -> None:
    assert code_in(subject, "") == expected


@pytest.mark.parametrize(("fresh", "expected"), [
    ("E004: yes, refund them", "E004"),
    ("\n\n  e004 - send the tracking number", "E004"),
    ("[B101] tell the buyer it ships Monday", "B101"),
    ("Re E004 yes", "E004"),
    ("Yes, answer E004 with the standard text", None),  # mid-sentence: not an answer
    ("Thanks\nE004: yes", None),  # only the first non-empty line counts
    ("", None),
])
def test_code_in_the_first_line(fresh: str, expected: str | None) -> None:
    assert code_in("Your question", fresh) == expected


def test_the_subject_wins_over_the_first_line_and_prefixes_narrow_the_codes() -> None:
    assert code_in("Re: E004", "B101: something else") == "E004"
    assert code_in("Re: E004", "", prefixes="B") is None
    assert code_in("Re: hello", "B101 yes", prefixes="B") == "B101"


def test_reply_subject_is_not_doubled() -> None:
    assert reply_subject("Invoice 42") == "Re: Invoice 42"
    for already in ("Re: Invoice 42", "RE: Invoice 42", "Aw: Invoice 42", "AW: Invoice 42",
                    "SV: Invoice 42", "Antw: Invoice 42"):
        assert reply_subject(already) == already
    assert reply_subject("Fwd: Invoice 42") == "Re: Fwd: Invoice 42"
    assert reply_subject("") == "Re: (no subject)"


# ---------------------------------------------------------------------------- fresh_text

GMAIL = (
    "E004: yes, send them the invoice copy.\r\n"
    "\r\n"
    "On Fri, Nov 27, 2026 at 10:15 AM Shop Bot <bot@shop.example> wrote:\r\n"
    "\r\n"
    "> E004 unknown email from billing@supplier.example: \"Invoice 42 is overdue\"\r\n"
    "> Reply E004 + your answer.\r\n"
)

GMAIL_WRAPPED = (
    "Yes please.\n\n"
    "On Fri, Nov 27, 2026 at 10:15 AM Customer Service Automation Robot <\n"
    "customer-service-robot@shop.example> wrote:\n\n"
    "> E004 unknown email\n"
)

OUTLOOK_DESKTOP = (
    "Refund the buyer in full.\r\n"
    "\r\n"
    "Mark\r\n"
    "\r\n"
    "From: Shop Bot <bot@shop.example>\r\n"
    "Sent: Friday, November 27, 2026 10:15 AM\r\n"
    "To: Mark Owner <mark@owner.example>\r\n"
    "Subject: E004 unknown email\r\n"
    "\r\n"
    "E004 unknown email from billing@supplier.example\r\n"
)

OUTLOOK_WEB = (
    "ok, go ahead\n"
    "\n"
    "Get Outlook for iOS<https://aka.ms/o0ukef>\n"
    "________________________________\n"
    "From: Shop Bot <bot@shop.example>\n"
    "Sent: Friday, November 27, 2026 10:15:00 AM\n"
    "To: mark@owner.example <mark@owner.example>\n"
    "Subject: E004 unknown email\n"
    "\n"
    "E004 unknown email from billing@supplier.example\n"
)

APPLE_MAIL = (
    "Ship the replacement today.\n"
    "\n"
    "Sent from my iPhone\n"
    "\n"
    "> On 27 Nov 2026, at 10:15, Shop Bot <bot@shop.example> wrote:\n"
    "> \n"
    "> E004 unknown email\n"
)

GERMAN = (
    "Ja, bitte erstatten.\n"
    "\n"
    "Von meinem iPhone gesendet\n"
    "\n"
    "Am 27.11.2026 um 10:15 schrieb Shop Bot <bot@shop.example>:\n"
    "> E004 unknown email\n"
)

GERMAN_OUTLOOK = (
    "Bitte ablehnen.\n"
    "\n"
    "Von: Shop Bot <bot@shop.example>\n"
    "Gesendet: Freitag, 27. November 2026 10:15\n"
    "An: Mark <mark@owner.example>\n"
    "Betreff: E004 unknown email\n"
    "\n"
    "E004 unknown email\n"
)

FRENCH = (
    "Oui, rembourser.\n"
    "\n"
    "Le ven. 27 nov. 2026 à 10:15, Shop Bot <bot@shop.example> a écrit :\n"
    "> E004 unknown email\n"
)

SPANISH_ITALIAN = (
    "Sí.\n\nEl vie, 27 nov 2026 a las 10:15, Shop Bot (<bot@shop.example>) escribió:\n> x\n",
    "Sì.\n\nIl giorno ven 27 nov 2026 alle ore 10:15 Shop Bot <bot@shop.example> ha "
    "scritto:\n> x\n",
)

SIGNATURE = (
    "E004: decline politely.\n"
    "Keep it short.\n"
    "\n"
    "-- \n"
    "Mark Owner\n"
    "Owner Shop Ltd · +1 555 0100\n"
)

ORIGINAL_MESSAGE = (
    "fine by me\n"
    "\n"
    "-----Original Message-----\n"
    "From: Shop Bot [mailto:bot@shop.example]\n"
    "Subject: E004\n"
)

INTERLEAVED = (
    "On Fri, Nov 27, 2026 at 10:15 AM Shop Bot <bot@shop.example> wrote:\n"
    "> E004 unknown email from billing@supplier.example: \"Invoice 42 is overdue\"\n"
    "> Reply E004 + your answer.\n"
    "\n"
    "Pay it, it is legitimate.\n"
    "Tell them it goes out Monday.\n"
    "\n"
    "> Sent by the shop bot\n"
    "\n"
    "-- \n"
    "Mark\n"
)


@pytest.mark.parametrize(("raw", "expected"), [
    (GMAIL, "E004: yes, send them the invoice copy."),
    (GMAIL_WRAPPED, "Yes please."),
    (OUTLOOK_DESKTOP, "Refund the buyer in full.\n\nMark"),
    (OUTLOOK_WEB, "ok, go ahead"),
    (APPLE_MAIL, "Ship the replacement today."),
    (GERMAN, "Ja, bitte erstatten."),
    (GERMAN_OUTLOOK, "Bitte ablehnen."),
    (FRENCH, "Oui, rembourser."),
    (SPANISH_ITALIAN[0], "Sí."),
    (SPANISH_ITALIAN[1], "Sì."),
    (SIGNATURE, "E004: decline politely.\nKeep it short."),
    (ORIGINAL_MESSAGE, "fine by me"),
    (INTERLEAVED, "Pay it, it is legitimate.\nTell them it goes out Monday."),
    ("> only a quote\n> nothing else\n", ""),
    ("", ""),
])
def test_fresh_text_keeps_only_the_new_words(raw: str, expected: str) -> None:
    assert fresh_text(raw) == expected


def test_fresh_text_removes_invisible_characters_and_keeps_inner_lines() -> None:
    raw = "E0\u200b04: yes\u202e\n\n\n\nsecond paragraph\n"
    assert fresh_text(raw) == "E004: yes\n\nsecond paragraph"


def test_an_unprefixed_original_below_a_header_is_not_taken_for_an_answer() -> None:
    # HTML mail made plain loses the "> ": the history must not become the answer.
    raw = ("On Fri, Nov 27, 2026 at 10:15 AM Shop Bot <bot@shop.example> wrote:\n"
           "E004 unknown email\n")
    assert fresh_text(raw) == ""


def test_a_reply_header_needs_its_closing_word() -> None:
    raw = "On Monday, ship it.\nThanks"
    assert fresh_text(raw) == "On Monday, ship it.\nThanks"


# ---------------------------------------------------------------------------- answer_text

@pytest.mark.parametrize(("fresh", "expected"), [
    ("E004: yes", "yes"),
    ("E004 - yes", "yes"),
    ("E004 — yes", "yes"),
    ("e004\nyes\n\nand thanks", "yes\n\nand thanks"),
    ("Re E004 yes", "yes"),
    ("[E004] yes", "yes"),
    ("  E004: first line\nsecond line with E004 kept  ", "first line\nsecond line with E004 kept"),
    ("yes, answer E004", "yes, answer E004"),  # no leading code: unchanged
    ("B101: other code", "B101: other code"),  # another code is not removed
    ("E004", ""),
])
def test_answer_text_drops_only_the_leading_code(fresh: str, expected: str) -> None:
    assert answer_text(fresh, "E004") == expected


# ---------------------------------------------------------------------------- referenced_ids

def test_referenced_ids_in_order_without_repeats() -> None:
    item = parse_headers(
        b"From: Mark <mark@owner.example>\r\n"
        b"In-Reply-To: <alert-2@shop.example>\r\n"
        b"References: <thread-1@mail.example>\r\n <alert-1@shop.example>"
        b" <alert-2@shop.example>\r\n"
        b"Subject: Re: E004\r\n\r\nyes\r\n")
    assert referenced_ids(item) == ["<alert-2@shop.example>", "<thread-1@mail.example>",
                                    "<alert-1@shop.example>"]
    assert referenced_ids(parse_headers(b"From: a@b.example\r\n\r\n")) == []


# ---------------------------------------------------------------------------- owner_verdict

def _owner_mail(*auth_results: str, sender: str = "Mark <mark@owner.example>") -> bytes:
    head = "".join(f"Authentication-Results: {v}\r\n" for v in auth_results)
    return (head + f"From: {sender}\r\nSubject: Re: E004\r\n"
            "Message-ID: <r1@owner.example>\r\n\r\nyes\r\n").encode()


@pytest.mark.parametrize(("headers", "sender", "status"), [
    (("mx.shop.example; dmarc=pass header.from=owner.example; spf=pass "
      "smtp.mailfrom=owner.example",), "Mark <mark@owner.example>", auth.PASS),
    (("mx.shop.example; dkim=pass header.d=owner.example; spf=none",),
     "Mark <mark@mail.owner.example>", auth.PASS),  # d= the parent domain: aligned
    (("mx.shop.example; dkim=pass header.d=mail.owner.example",),
     "Mark <mark@owner.example>", auth.PASS),  # d= a subdomain: aligned too
    (("mx.shop.example; dkim=pass header.d=other.example",),
     "Mark <mark@owner.example>", auth.NONE),  # not aligned
    (("mx.shop.example; dmarc=fail header.from=owner.example; dkim=pass "
      "header.d=owner.example",), "Mark <mark@owner.example>", auth.FAIL),
    ((), "Mark <mark@owner.example>", auth.ABSENT),
    # the display-name trick never passes, whatever the results say
    (("mx.shop.example; dmarc=pass header.from=evil.example",),
     '"mark@owner.example" <x@evil.example>', auth.NONE),
])
def test_owner_verdict(headers: tuple[str, ...], sender: str, status: str) -> None:
    item = parse_headers(_owner_mail(*headers, sender=sender))
    assert owner_verdict(item, authserv_id="mx.shop.example").status == status


def test_a_forged_header_under_another_authserv_id_does_not_count() -> None:
    raw = _owner_mail("mx.shop.example; dmarc=fail header.from=owner.example",
                      "mx.forger.example; dmarc=pass header.from=owner.example")
    assert owner_verdict(parse_headers(raw), authserv_id="mx.shop.example").status == auth.FAIL
    only_forged = _owner_mail("mx.forger.example; dmarc=pass header.from=owner.example")
    verdict = owner_verdict(parse_headers(only_forged), authserv_id="mx.shop.example")
    assert verdict.status == auth.NONE


def test_a_bare_top_level_domain_aligns_with_nothing() -> None:
    raw = _owner_mail("mx.shop.example; dkim=pass header.d=example")
    assert owner_verdict(parse_headers(raw), authserv_id="mx.shop.example").status == auth.NONE


# ---------------------------------------------------------------------------- the alert email

def test_compose_alert_carries_our_message_id() -> None:
    msg = alert_message(["mark@owner.example"], "E004 unknown email\r\nBcc: x@evil.example",
                        "E004: billing@supplier.example asks about invoice 42.",
                        from_addr="bot@shop.example", from_name="Shop Bot",
                        message_id="<a1.abc@shop.example>")
    assert msg["Message-ID"] == "<a1.abc@shop.example>"
    assert msg["To"] == "mark@owner.example"
    assert msg["Bcc"] is None  # a line break in the subject cannot add a header
    assert msg["Subject"] == "E004 unknown email Bcc: x@evil.example"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "E004: billing@supplier.example asks about invoice 42."
    with pytest.raises(ValueError):
        alert_message([], "s", "b", from_addr="bot@shop.example", message_id="<x@y>")


# ---------------------------------------------------------------------------- readable_text

def test_readable_text_prefers_plain_and_keeps_quotes_for_fresh_text() -> None:
    raw = (
        b"From: Mark <mark@owner.example>\r\nSubject: Re: E004\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"On Fri, Nov 27, 2026 at 10:15 AM Shop Bot <bot@shop.example> wrote:\r\n"
        b"> E004 unknown email\r\n\r\nZahlen, bitte =E2=80=93 danke.\r\n"
        b"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html version</p>\r\n"
        b"--b1--\r\n")
    text = readable_text(raw)
    assert "> E004 unknown email" in text  # nothing cut yet
    assert fresh_text(text) == "Zahlen, bitte – danke."


def test_readable_text_of_an_html_reply_drops_the_blockquote() -> None:
    raw = (
        b"From: Mark <mark@owner.example>\r\nSubject: Re: E004\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<div dir=ltr>E004: yes, go ahead</div><br><div class=gmail_quote>"
        b"<div>On Fri, Nov 27, 2026 at 10:15 AM Shop Bot &lt;bot@shop.example&gt; wrote:"
        b"</div><blockquote>E004 unknown email<br>Reply E004 + your answer</blockquote></div>")
    fresh = fresh_text(readable_text(raw))
    assert fresh == "E004: yes, go ahead"
    assert answer_text(fresh, code_in("Re: something", fresh) or "") == "yes, go ahead"
    assert readable_text(b"") == "" and readable_text(b"\xff\xfe garbage") != "x"
