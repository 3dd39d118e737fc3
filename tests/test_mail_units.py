"""Pure units for the mailbox: header parsing, body text, summaries, rules and the corpus."""

from __future__ import annotations

import random
import re
from email.message import EmailMessage

import pytest

from rpa.errors import ConfigError
from rpa.mail.amazon import mentions_amazon
from rpa.mail.body import body_text
from rpa.mail.headers import MailItem, decode_words, parse_headers
from rpa.mail.rules import (
    DEFAULT_RULES,
    DEFAULT_TRUSTED_DOMAINS,
    Decision,
    Rule,
    classify,
    parse_rules,
)
from rpa.mail.summary import summarize
from rpa.practice.mailcorpus import DEMO_BUYERS, OWNER_ADDRESS, bulk_mails, demo_mails

OWNERS = [OWNER_ADDRESS]


def decide(item: MailItem, rules: list[Rule] | None = None) -> Decision:
    return classify(item, DEFAULT_RULES if rules is None else rules,
                    trusted_domains=DEFAULT_TRUSTED_DOMAINS, owner_addresses=OWNERS)


def sender(name: str, addr: str, subject: str = "Hello") -> MailItem:
    addr = addr.lower()
    return MailItem(from_name=name, from_addr=addr, from_domain=addr.rsplit("@", 1)[-1],
                    subject=subject, message_id="<t@x>")


def demo_by_id() -> dict[str, tuple[str, bytes]]:
    out: dict[str, tuple[str, bytes]] = {}
    for folder, mails in demo_mails().items():
        for raw in mails:
            out[parse_headers(raw).message_id] = (folder, raw)
    return out


def sentence_count(text: str) -> int:
    return len(re.findall(r"[.!?…](?=\s|$)", text))


# --------------------------------------------------------------------------- parse_headers

def test_utf8_encoded_subject_and_name() -> None:
    raw = (b"From: =?UTF-8?B?Wm/DqyBHYXJjw61h?= <Zoe.Garcia@Example.ORG>\r\n"
           b"Subject: =?utf-8?q?R=C3=BCckerstattung_f=C3=BCr?= =?utf-8?q?_Bestellung?=\r\n"
           b"Message-ID: <abc@example.org>\r\n\r\n")
    item = parse_headers(raw, uid=7, folder="INBOX", size=1234)
    assert item.from_name == "Zoë García"
    assert item.from_addr == "zoe.garcia@example.org"
    assert item.from_domain == "example.org"
    assert item.subject == "Rückerstattung für Bestellung"
    assert item.message_id == "<abc@example.org>"
    assert (item.uid, item.folder, item.size) == (7, "INBOX", 1234)


def test_iso_8859_1_encoded_words() -> None:
    raw = (b"From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <j@kartonwerk.example>\r\n"
           b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\r\n\r\n")
    item = parse_headers(raw)
    assert item.from_name == "Jürgen Müller"
    assert item.subject == "Grüße aus Köln"


def test_unknown_charset_gives_replacement_characters() -> None:
    raw = b"Subject: =?x-made-up?q?caf=E9_au_lait?=\r\nFrom: a@b.example\r\n\r\n"
    item = parse_headers(raw)
    assert item.subject == "caf\ufffd au lait"
    assert item.from_addr == "a@b.example"


def test_unknown_charset_with_utf8_bytes_is_read_as_utf8() -> None:
    assert decode_words("=?x-unknown-8bit?q?caf=C3=A9?=") == "café"


def test_broken_encoded_words_do_not_raise() -> None:
    raw = (b"Subject: =?utf-8?b?====?= and =?utf-8?q?=ZZ=?= and =?nope?x?abc?=\r\n"
           b"From: =?utf-8?b?!!!?= <x@y.example>\r\n\r\n")
    item = parse_headers(raw)
    assert "and" in item.subject
    assert item.from_addr == "x@y.example"


def test_adjacent_encoded_words_join_without_space() -> None:
    assert decode_words("=?utf-8?q?Hello?= =?utf-8?q?World?=") == "HelloWorld"
    assert decode_words("=?utf-8?q?Hello?= plain =?utf-8?q?World?=") == "Hello plain World"
    # one character split over two words
    assert decode_words("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=") == "café"


def test_folded_headers_are_unfolded() -> None:
    raw = (b"Subject: A very long subject line that\r\n   continues here\r\n\tand here\r\n"
           b"From: \"Jane\r\n Doe\" <jane@example.org>\r\n\r\n")
    item = parse_headers(raw)
    assert item.subject == "A very long subject line that continues here and here"
    assert item.from_name == "Jane Doe"


def test_missing_headers_give_empty_fields_and_a_stable_synthetic_id() -> None:
    raw = b"X-Mailer: nothing useful\r\n\r\nbody"
    first = parse_headers(raw)
    assert (first.from_name, first.from_addr, first.from_domain, first.subject,
            first.date) == ("", "", "", "", "")
    assert first.message_id.startswith("<synthetic-") and first.message_id.endswith(">")
    assert parse_headers(raw).message_id == first.message_id
    other = parse_headers(b"Subject: something else\r\n\r\n")
    assert other.message_id.startswith("<synthetic-")
    assert other.message_id != first.message_id


def test_synthetic_id_depends_on_date_sender_and_subject_only() -> None:
    a = parse_headers(b"From: a@x.example\r\nSubject: s\r\nDate: Mon, 10 Mar 2025 08:00:00 "
                      b"+0000\r\nX-Other: 1\r\n\r\n")
    b = parse_headers(b"From: a@x.example\r\nSubject: s\r\nDate: Mon, 10 Mar 2025 08:00:00 "
                      b"+0000\r\nX-Other: 2\r\n\r\n", uid=9)
    c = parse_headers(b"From: a@x.example\r\nSubject: s\r\nDate: Tue, 11 Mar 2025 08:00:00 "
                      b"+0000\r\n\r\n")
    assert a.message_id == b.message_id
    assert a.message_id != c.message_id


def test_multiple_from_addresses_take_the_first() -> None:
    item = parse_headers(b"From: Ann <ann@one.example>, Bob <bob@two.example>\r\n\r\n")
    assert (item.from_name, item.from_addr, item.from_domain) == ("Ann", "ann@one.example",
                                                                  "one.example")


def test_unquoted_comma_in_display_name() -> None:
    item = parse_headers(b"From: Doe, Jane <Jane@Doe.example>\r\n\r\n")
    assert (item.from_name, item.from_addr) == ("Doe, Jane", "jane@doe.example")


def test_date_flags_and_seen() -> None:
    raw = b"Date: Mon, 10 Mar 2025 09:15:00 +0100\r\n\r\n"
    item = parse_headers(raw, flags=(b"\\Seen", b"\\Flagged"))
    assert item.date == "2025-03-10T09:15:00+01:00"
    assert item.seen is True
    assert item.flags == ("\\Seen", "\\Flagged")
    unseen = parse_headers(raw, flags=("\\Answered",))
    assert unseen.seen is False
    assert parse_headers(b"Date: not a date at all\r\n\r\n").date == ""


def test_raw_8bit_headers_are_decoded() -> None:
    item = parse_headers("Subject: Größe M\r\nFrom: Zoë <z@x.example>\r\n\r\n".encode())
    assert item.subject == "Größe M"
    assert item.from_name == "Zoë"
    latin = parse_headers("Subject: Größe M\r\n\r\n".encode("latin-1"))
    assert latin.subject == "Größe M"


def test_message_id_whitespace_removed() -> None:
    item = parse_headers(b"Message-ID:\r\n <abc.def@example.org>\r\n\r\n")
    assert item.message_id == "<abc.def@example.org>"


@pytest.mark.parametrize("raw", [
    b"", b"\x00\xff\xfe\x80garbage", b"From:\r\n\r\n", b"From: <<<@@>>>\r\n",
    b"Subject: =?utf-8?b?\r\n", b": no name\r\nSubject x\r\n", b"\r\n\r\n\r\n",
    b"From sender@example.org Mon Jan  1 10:00:00 2024\r\nSubject: mbox\r\n\r\n",
    bytes(range(256)) * 4,
])
def test_parse_headers_never_raises(raw: bytes) -> None:
    item = parse_headers(raw)
    assert isinstance(item, MailItem)
    assert item.message_id


def test_parse_headers_survives_random_bytes() -> None:
    rng = random.Random(42)
    for _ in range(200):
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        assert parse_headers(raw).message_id


def test_mbox_from_line_is_not_a_header() -> None:
    item = parse_headers(b"From sender@example.org Mon Jan  1 10:00:00 2024\r\n"
                         b"Subject: mbox\r\n\r\n")
    assert item.from_addr == ""
    assert item.subject == "mbox"


# --------------------------------------------------------------------------- body_text

def test_html_only_body_becomes_text() -> None:
    msg = EmailMessage()
    msg["Subject"] = "x"
    msg.set_content(
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<p>First&nbsp;paragraph &amp; more.</p><script>alert('x')</script>"
        "<p>Second<br>line two</p><ul><li>one</li><li>two</li></ul></body></html>",
        subtype="html")
    text = body_text(msg.as_bytes())
    assert text == "First paragraph & more.\n\nSecond\nline two\n\n- one\n- two"


def test_plain_part_preferred_over_html() -> None:
    msg = EmailMessage()
    msg.set_content("plain words")
    msg.add_alternative("<p>html words</p>", subtype="html")
    assert body_text(msg.as_bytes()) == "plain words"


def test_attachments_are_skipped() -> None:
    mail = demo_by_id()["<demo.accountant@lopez-accounting.example>"][1]
    text = body_text(mail)
    assert text.startswith("Hi Sam,\n\nFor the Q1 VAT return I still need")
    assert "ATTACHED NOTES" not in text
    assert "PDF" not in text
    # the sign-off and signature block are gone too
    assert "Kind regards" not in text and "+1 555" not in text


def test_forwarded_attachment_message_is_skipped() -> None:
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("SECRET INNER TEXT")
    outer = EmailMessage()
    outer.set_content("Please see the attached mail.")
    outer.add_attachment(inner, filename="fwd.eml")
    assert body_text(outer.as_bytes()) == "Please see the attached mail."


def test_quoted_reply_and_signature_removed() -> None:
    mail = demo_by_id()["<demo.pickup-change@fastfreight.example>"][1]
    text = body_text(mail)
    assert text == ("Hello,\n\nStarting Monday 17 March your daily pickup moves from 4 pm to "
                    "2:30 pm because of a new route. Please have the parcels ready by 2:15 pm.")


@pytest.mark.parametrize("tail", [
    "On Mon, 10 Mar 2025 at 08:12, Sam <sam@x.example> wrote:\n> old question\n> more",
    "On Mon, 10 Mar 2025 at 08:12, Sam Carter <\nsam@x.example> wrote:\n> old",
    "-----Original Message-----\nFrom: Sam\nSent: Monday\nold text",
    "________________________________\nFrom: Sam <sam@x.example>\nSent: Monday, 10 March\n"
    "To: support\nSubject: old\n\nold text",
    "From: Sam <sam@x.example>\nDate: Monday, 10 March\nSubject: old\n\nold text",
    "-- \nJohn Miller\nDispatch",
    "--\nJohn Miller",
    "Sent from my iPhone",
    "Get Outlook for Android",
    "Best regards,\nJohn Miller\nFastFreight\n+1 555 0100",
    "Thanks,\nJohn",
])
def test_history_and_signatures_cut(tail: str) -> None:
    raw = ("Content-Type: text/plain; charset=utf-8\r\n\r\nThe new price is 4.10 USD.\n\n"
           + tail + "\n").encode()
    assert body_text(raw) == "The new price is 4.10 USD."


def test_inline_quote_lines_removed_but_answers_kept() -> None:
    raw = (b"Content-Type: text/plain\r\n\r\n> Can you ship Monday?\r\nYes, Monday works.\r\n"
           b"> And the invoice?\r\nAttached tomorrow.\r\n")
    assert body_text(raw) == "Yes, Monday works.\nAttached tomorrow."


def test_sign_off_in_the_middle_of_a_long_mail_is_kept() -> None:
    body = "Intro line.\nThanks,\n" + "\n".join(f"More detail {i}." for i in range(10))
    raw = b"Content-Type: text/plain\r\n\r\n" + body.encode()
    text = body_text(raw)
    assert "More detail 9." in text and "Thanks," in text


def test_html_blockquote_history_dropped() -> None:
    raw = (b"Content-Type: text/html; charset=utf-8\r\n\r\n<div>Top reply here.</div>"
           b"<div class=\"gmail_quote\"><blockquote>old <b>quoted</b> text</blockquote></div>")
    assert body_text(raw) == "Top reply here."


def test_quoted_printable_latin1_body() -> None:
    mail = demo_by_id()["<demo.carton-delay@kartonwerk.example>"][1]
    text = body_text(mail)
    assert "delayed by one week because of a machine breakdown" in text
    assert "Mit freundlichen" not in text  # sign-off and signature removed
    raw = (b"Content-Type: text/plain; charset=iso-8859-1\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n")
    assert body_text(raw) == "Grüße aus Köln"


def test_unknown_body_charset_falls_back_to_utf8() -> None:
    ok = b"Content-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xc3\xa9 ok"
    bad = b"Content-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xe9 ok"
    assert body_text(ok) == "café ok"
    assert body_text(bad) == "caf\ufffd ok"


def test_base64_body_and_broken_base64() -> None:
    good = (b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64"
            b"\r\n\r\nSGVsbG8sIHdvcmxkIQ==\r\n")
    assert body_text(good) == "Hello, world!"
    broken = (b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              b"SGVsbG8!!!\r\n%%%\r\n")
    assert isinstance(body_text(broken), str)


def test_multipart_without_boundary_is_best_effort() -> None:
    raw = b"Content-Type: multipart/mixed\r\n\r\nhello there\r\n"
    assert body_text(raw) == "hello there"


def test_whitespace_collapsed() -> None:
    raw = b"Content-Type: text/plain\r\n\r\n  one \t  two  \r\n\r\n\r\n\r\nthree\xc2\xa0four  \r\n"
    assert body_text(raw) == "one two\n\nthree four"


def test_size_cap() -> None:
    raw = b"Content-Type: text/plain\r\n\r\n" + b"word " * 10000
    text = body_text(raw, max_chars=100)
    assert len(text) <= 100
    assert text.startswith("word word")
    assert len(body_text(raw)) <= 20000
    assert body_text(raw, max_chars=0) == ""


@pytest.mark.parametrize("raw", [
    b"", b"\x00\x01\x02\xff\xfe", b"Content-Type: text/plain; charset=base64\r\n\r\nhi",
    b"Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: "
    b"text/html\r\n\r\n<p>unclosed <script>never ends",
    b"Content-Type: text/html\r\n\r\n<<<>>><div><p></div></p>&#xZZ;&bogus;",
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=",
    bytes(range(256)) * 8,
])
def test_body_text_never_raises(raw: bytes) -> None:
    assert isinstance(body_text(raw), str)


def test_body_text_garbage_has_no_control_characters() -> None:
    assert body_text(b"\x00\x01\x02\x07text\x1b") == "text"


# --------------------------------------------------------------------------- summarize

def test_summary_of_demo_accountant() -> None:
    raw = demo_by_id()["<demo.accountant@lopez-accounting.example>"][1]
    item = parse_headers(raw)
    summary = summarize(item, body_text(raw))
    assert summary.startswith('Maria Lopez wrote about "Documents needed for your Q1 VAT return": '
                              "For the Q1 VAT return I still need the Amazon settlement")
    assert "Hi Sam" not in summary
    assert summary.endswith("Could you send them by 20 March?")  # a question stays one
    assert len(summary) <= 240


def test_summary_two_sentences_when_they_fit() -> None:
    item = MailItem(from_name="FastFreight Pickups", subject="Pickup change")
    text = ("Hello,\n\nYour pickup moves to 2:30 pm. Please have parcels ready by 2:15 pm. "
            "A third sentence that is never used.")
    summary = summarize(item, text)
    assert summary == ('FastFreight Pickups wrote about "Pickup change": Your pickup moves to '
                       "2:30 pm. Please have parcels ready by 2:15 pm.")
    assert sentence_count(summary) == 2


def test_summary_skips_greetings_and_pleasantries() -> None:
    item = MailItem(from_addr="kevin@warehouse.example", subject="Pallet")
    text = ("Dear Mr. Smith,\n\nI hope you are well.\n\nThank you for your email.\n\n"
            "12 boxes arrived crushed.")
    assert summarize(item, text) == ('kevin@warehouse.example wrote about "Pallet": 12 boxes '
                                     "arrived crushed.")


def test_summary_greeting_on_the_same_line() -> None:
    item = MailItem(from_name="Ann", subject="Boxes")
    assert summarize(item, "Hi Sam, the boxes arrived.") == (
        'Ann wrote about "Boxes": The boxes arrived.')


def test_summary_keeps_the_senders_sentence_end() -> None:
    item = MailItem(from_name="Kevin", subject="")
    summary = summarize(item, "Should I refuse the pallet?")
    assert summary == "Kevin wrote (no subject): Should I refuse the pallet?"
    assert summarize(item, "The pallet arrived") == (
        "Kevin wrote (no subject): The pallet arrived.")


def test_summary_without_body_or_sender() -> None:
    assert summarize(MailItem(subject="Invoice"), "") == (
        'An unknown sender sent "Invoice" with no readable text.')
    assert summarize(MailItem(), "   ") == (
        "An unknown sender sent an email with no subject and no readable text.")


# Below about 100 characters too little of the sentence would be left to say anything: the
# summary is then who wrote about what (tests/test_mail_texts.py).
@pytest.mark.parametrize("limit", [120, 160, 240])
def test_summary_length_cap_at_word_boundary(limit: int) -> None:
    item = MailItem(from_name="Li Wei - Sunrise Bamboo Co.", subject="New price list")
    text = ("From 1 April 2025 our prices for bamboo cutting boards, serving boards, chopping "
            "blocks and every other bamboo item in the catalogue rise by six percent because "
            "of higher raw material costs in the whole region, longer shipping routes and the "
            "new export duties. Orders placed before 25 March keep the old prices.")
    full = summarize(item, text, max_chars=10_000)
    summary = summarize(item, text, max_chars=limit)
    assert len(summary) <= limit
    assert summary.endswith("…")
    stem = summary[:-1]
    assert full.startswith(stem)
    assert full[len(stem)] in " ,;:"  # cut between words, dangling punctuation dropped


def test_summary_is_deterministic_and_at_most_two_sentences() -> None:
    for _folder, raw in demo_by_id().values():
        item = parse_headers(raw)
        text = body_text(raw)
        summary = summarize(item, text)
        assert summary == summarize(item, text)
        assert len(summary) <= 240
        assert summary.endswith((".", "?", "!", "…"))
        body_part = summary.split(": ", 1)[-1] if item.subject else summary
        assert 1 <= sentence_count(body_part) <= 2, summary


# --------------------------------------------------------------------------- rules on the demo

EXPECTED = {
    "<demo.copy-olivia@seller-notification.amazon.com>": ("your_email_copy", "delete"),
    "<demo.copy-daniel@seller-notification.amazon.com>": ("your_email_copy", "delete"),
    "<demo.sold-boards@seller-notification.amazon.com>": ("sold_ship_now", "delete"),
    "<demo.sold-press@seller-notification.amazon.com>": ("sold_ship_now", "delete"),
    "<demo.fba-sender@amazon.com>": ("fba_promotion_sender", "delete"),
    "<demo.fba-subject@amazon.com>": ("fba_promotion", "delete"),
    "<demo.buyer-olivia@marketplace.amazon.com>": ("buyer_message", "buyer_message"),
    "<demo.buyer-daniel@marketplace.amazon.com>": ("buyer_message", "buyer_message"),
    "<demo.buyer-rachel@marketplace.amazon.com>": ("buyer_message", "buyer_message"),
    "<demo.buyer-wendy@marketplace.amazon.com>": ("buyer_message", "buyer_message"),
    "<demo.price-change@sunrise-bamboo.example>": ("unknown", "escalate"),
    "<demo.accountant@lopez-accounting.example>": ("unknown", "escalate"),
    "<demo.pickup-change@fastfreight.example>": ("unknown", "escalate"),
    "<demo.carton-delay@kartonwerk.example>": ("unknown", "escalate"),
    "<demo.phish-support@amaz0n-seller-support.com>": ("lookalike", "escalate"),
    "<demo.owner-answer@acme-goods.example>": ("owner", "owner_reply"),
    "<demo.no-subject@acme-warehouse.example>": ("unknown", "escalate"),
    "<demo.junk-sold-mat@seller-notification.amazon.com>": ("sold_ship_now", "delete"),
    "<demo.junk-copy-rachel@seller-notification.amazon.com>": ("your_email_copy", "delete"),
    "<demo.junk-fba@amazon.com>": ("fba_promotion", "delete"),
    "<demo.junk-buyer-tom@marketplace.amazon.com>": ("buyer_message", "buyer_message"),
    "<demo.junk-phish@amazon.example-security.com>": ("lookalike", "escalate"),
}


def test_every_demo_mail_gets_its_expected_decision() -> None:
    demo = demo_by_id()
    synthetic = [mid for mid in demo if mid.startswith("<synthetic-")]
    assert len(synthetic) == 1  # the mail without From and Message-ID
    assert set(demo) == set(EXPECTED) | set(synthetic)
    for mid, (rule, action) in EXPECTED.items():
        folder, raw = demo[mid]
        dec = decide(parse_headers(raw, folder=folder))
        assert (dec.rule, dec.action) == (rule, action), mid
    broken = decide(parse_headers(demo[synthetic[0]][1]))
    assert (broken.rule, broken.action) == ("unknown", "escalate")


def test_demo_folders_hold_every_kind() -> None:
    demo = demo_by_id()
    actions: dict[str, set[str]] = {"INBOX": set(), "Junk": set()}
    for folder, raw in demo.values():
        actions[folder].add(decide(parse_headers(raw)).action)
    assert actions["INBOX"] == {"delete", "buyer_message", "escalate", "owner_reply"}
    assert actions["Junk"] == {"delete", "buyer_message", "escalate"}


def test_demo_buyer_messages_carry_name_and_order() -> None:
    found: dict[str, str] = {}
    for _folder, raw in demo_by_id().values():
        dec = decide(parse_headers(raw))
        if dec.action == "buyer_message":
            found[dec.buyer_name] = dec.order_id
    assert found == dict(DEMO_BUYERS)
    assert found["Wendy Park"] == "113-0000000-0000001"


def test_demo_is_the_same_every_call() -> None:
    assert demo_mails() == demo_mails()
    assert set(demo_mails()) == {"INBOX", "Junk"}


def test_demo_special_mails_parse_as_intended() -> None:
    demo = demo_by_id()
    carton = parse_headers(demo["<demo.carton-delay@kartonwerk.example>"][1])
    assert carton.subject == "Lieferverzögerung: Versandkartons Größe M"
    assert carton.from_name == "Jürgen Müller"
    assert parse_headers(demo["<demo.no-subject@acme-warehouse.example>"][1]).subject == ""
    price = demo["<demo.price-change@sunrise-bamboo.example>"][1]
    assert b"text/plain" not in price and b"text/html" in price
    text = body_text(price)
    assert "trackOpen" not in text and "color" not in text
    assert "From 1 April 2025 our prices for bamboo cutting boards rise by 6%" in text


# --------------------------------------------------------------------------- rules: lookalikes

@pytest.mark.parametrize("name, addr, subject", [
    ("Amazon Seller Support", "support@amaz0n-seller-support.com", "Your account"),
    ("Amazon Payments", "payments@amazon.example-security.com", "Sold, ship now: x"),
    ("Seller Central", "notice@arnazon-sellercentral.example", "Your e-mail to Jane Doe"),
    ("Performance", "team@amzn-notices.example", "Fulfillment by Amazon offer"),
    ("Jane Doe - Amazon Marketplace", "x@marketplace.amazon.com.evil.example",
     "Question about order 113-5520981-3307741"),
    ("AMAZ0N Marketplace", "help@mail.example", "Sold, ship now: boards"),
    ("Support", "help@xn--mazon-support-v1k.com", "Verify"),  # Cyrillic "а" homograph
    ("Αmazon Services", "news@shop.example", "Fulfillment by Amazon"),  # Greek capital alpha
    ("Team", "security@myamazon.com", "Your e-mail to Olivia Brown"),
])
def test_lookalikes_are_escalated_as_phishing_never_deleted(name: str, addr: str,
                                                            subject: str) -> None:
    dec = decide(sender(name, addr, subject))
    assert dec.rule == "lookalike"
    assert dec.action == "escalate"
    assert dec.note.startswith("possible phishing: ")
    assert addr.split("@")[1] in dec.note


def test_lookalike_check_wins_over_a_matching_user_rule() -> None:
    rules = [Rule("trash_all_sold", "delete", subject=["Sold, ship now"])]
    dec = decide(sender("Amazon Payments", "p@amazon.example-security.com", "Sold, ship now"),
                 rules)
    assert (dec.rule, dec.action) == ("lookalike", "escalate")


@pytest.mark.parametrize("text, expected", [
    ("Amazon", True), ("amaz0n", True), ("ARNAZON", True), ("amazn", True), ("a-m-a-z-o-n", True),
    ("Amzn", True), ("Sunrise Bamboo", False), ("Ramazan Yilmaz", False), ("amazing deals", False),
    ("", False),
])
def test_mentions_amazon(text: str, expected: bool) -> None:
    assert mentions_amazon(text) is expected


# --------------------------------------------------------------------------- rules: the rest

def test_amazon_rules_do_not_apply_to_untrusted_domains() -> None:
    for subject in ("Sold, ship now: boards", "Your e-mail to Jane Doe",
                    "Fulfillment by Amazon made easy"):
        dec = decide(sender("Shop News", "news@shop.example", subject))
        # "Fulfillment by Amazon" in a subject is not a sender mention: plain unknown mail
        assert (dec.rule, dec.action) == ("unknown", "escalate"), subject
    dec = decide(sender("Jane Doe - Amazon Marketplace", "jane@gmail.example", "Hi"))
    assert (dec.rule, dec.action) == ("lookalike", "escalate")


def test_trusted_subdomains_and_marketplaces() -> None:
    uk = decide(sender("Ann Lee - Amazon Marketplace", "abc@marketplace.amazon.co.uk",
                       "Order 202-1234567-7654321 question"))
    assert (uk.action, uk.buyer_name, uk.order_id) == ("buyer_message", "Ann Lee",
                                                        "202-1234567-7654321")
    de = decide(sender("Amazon.de", "versand@amazon.de", "Sold, ship now: Brett"))
    assert (de.rule, de.action) == ("sold_ship_now", "delete")


def test_buyer_name_without_dash_and_without_order() -> None:
    dec = decide(sender("Jane Doe Amazon Marketplace", "x@marketplace.amazon.com",
                        "A question"))
    assert (dec.action, dec.buyer_name, dec.order_id) == ("buyer_message", "Jane Doe", "")


def test_amazon_marketplace_without_a_buyer_name_is_not_a_buyer() -> None:
    dec = decide(sender("Amazon Marketplace", "x@marketplace.amazon.com", "Policy update"))
    assert (dec.rule, dec.action) == ("unknown", "escalate")


def test_fba_rule_matches_subject_or_sender_name() -> None:
    by_subject = decide(sender("Amazon Services", "a@amazon.com", "Try Fulfillment by Amazon"))
    by_name = decide(sender("Fulfillment by Amazon", "a@amazon.com", "Storage fees"))
    neither = decide(sender("Amazon Services", "a@amazon.com", "Storage fees"))
    assert (by_subject.rule, by_subject.action) == ("fba_promotion", "delete")
    assert (by_name.rule, by_name.action) == ("fba_promotion_sender", "delete")
    assert (neither.rule, neither.action) == ("unknown", "escalate")


def test_subject_must_start_with_the_notice_phrase() -> None:
    dec = decide(sender("Amazon Seller Central", "n@amazon.com", "Re: Sold, ship now: boards"))
    assert dec.action == "escalate"


def test_owner_mail_is_owner_reply() -> None:
    dec = decide(sender("Sam Carter", "Owner@Acme-Goods.example", "Re: prices"))
    assert (dec.rule, dec.action) == ("owner", "owner_reply")
    # the owner's own address wins even when the display name mentions Amazon
    dec = decide(sender("Sam (Amazon shop)", OWNER_ADDRESS, "Re: prices"))
    assert (dec.rule, dec.action) == ("owner", "owner_reply")


def test_unknown_sender_falls_back_to_escalate() -> None:
    dec = decide(sender("Maria Lopez", "maria@lopez-accounting.example", "Documents"))
    assert (dec.rule, dec.action) == ("unknown", "escalate")
    assert decide(MailItem()).action == "escalate"


def test_rules_and_across_fields_or_within_first_match_wins() -> None:
    rules = [
        Rule("supplier_prices", "keep", subject=["price", "/tarif/i"],
             sender_domain=["sunrise-bamboo.example"]),
        Rule("any_price", "delete", subject=["price"]),
    ]
    hit = decide(sender("Li", "li@sales.sunrise-bamboo.example", "New price list"), rules)
    assert (hit.rule, hit.action) == ("supplier_prices", "keep")
    hit = decide(sender("Li", "li@sunrise-bamboo.example", "Nouveaux tarifs"), rules)
    assert hit.rule == "supplier_prices"
    other_domain = decide(sender("X", "x@sunrise-bamboo.example.evil", "New price list"), rules)
    assert (other_domain.rule, other_domain.action) == ("any_price", "delete")
    whole_words = decide(sender("X", "x@y.example", "Priceless offer"), rules)
    assert whole_words.rule == "unknown"


def test_sender_address_with_at_sign_matches_exactly() -> None:
    rules = [Rule("acct", "keep", sender_address=["maria@lopez-accounting.example"])]
    assert decide(sender("M", "maria@lopez-accounting.example"), rules).rule == "acct"
    assert decide(sender("M", "maria@lopez-accounting.example.evil"), rules).rule == "unknown"
    assert decide(sender("M", "anna.maria@lopez-accounting.example"), rules).rule == "unknown"


def test_amazon_flag_on_a_user_rule() -> None:
    rules = [Rule("reports", "keep", subject=["report"], amazon=True)]
    assert decide(sender("Reports", "r@amazon.com", "Your report"), rules).rule == "reports"
    assert decide(sender("Reports", "r@reports.example", "Your report"), rules).rule == "unknown"


# --------------------------------------------------------------------------- parse_rules

def test_parse_rules_builds_rules() -> None:
    rules = parse_rules([
        {"name": "accountant", "action": "keep", "sender_domain": ["lopez-accounting.example"]},
        {"name": "promo", "action": "delete", "subject": "/^promo:/i", "amazon": True},
    ], "rpa.yaml")
    assert rules == [
        Rule("accountant", "keep", sender_domain=["lopez-accounting.example"]),
        Rule("promo", "delete", subject=["/^promo:/i"], amazon=True),
    ]


def test_default_rules_round_trip_through_parse_rules() -> None:
    data = [{"name": r.name, "action": r.action, "subject": r.subject,
             "sender_name": r.sender_name, "sender_address": r.sender_address,
             "sender_domain": r.sender_domain, "amazon": r.amazon, "bounce": r.bounce,
             "auto_reply": r.auto_reply, "mailing_list": r.mailing_list}
            for r in DEFAULT_RULES]
    assert parse_rules(data, "x.yaml") == DEFAULT_RULES


@pytest.mark.parametrize("data, key, words", [
    ([{"name": "a", "action": "delete", "subject": ["x"]},
      {"name": "b", "action": "delete", "subjet": ["x"]}], "mailbox.rules[1].subjet",
     "unknown key"),
    ([{"name": "a", "action": "trash", "subject": ["x"]}], "mailbox.rules[0].action",
     "unknown action"),
    ([{"name": "a", "action": "delete", "subject": ["/(unclosed/"]}],
     "mailbox.rules[0].subject", "regular expression"),
    ([{"name": "a", "action": "delete", "sender_name": ["ok", "  "]}],
     "mailbox.rules[0].sender_name", "empty pattern"),
    ([{"name": "a", "action": "delete", "sender_domain": [3]}],
     "mailbox.rules[0].sender_domain", "not text"),
    ([{"name": "a", "action": "delete", "subject": {"x": 1}}], "mailbox.rules[0].subject",
     "list of patterns"),
    ([{"name": "a", "action": "delete", "subject": ["x"], "amazon": "yes"}],
     "mailbox.rules[0].amazon", "true or false"),
    ([{"action": "delete", "subject": ["x"]}], "mailbox.rules[0].name", "needs a name"),
    ([{"name": "a", "action": "keep", "subject": ["x"]},
      {"name": "a", "action": "keep", "subject": ["y"]}], "mailbox.rules[1].name",
     "used twice"),
    ([{"name": "a", "action": "delete"}], "mailbox.rules[0]", "at least one"),
    (["not a mapping"], "mailbox.rules[0]", "mapping"),
    ({"name": "a"}, "mailbox.rules", "list of rules"),
])
def test_parse_rules_errors_name_the_key(data: object, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(data, "/etc/rpa.yaml")  # type: ignore[arg-type]
    assert info.value.key == key
    assert info.value.file == "/etc/rpa.yaml"
    assert words in str(info.value)
    assert str(info.value).startswith(f"/etc/rpa.yaml: {key}: ")


# --------------------------------------------------------------------------- bulk corpus

def test_bulk_mails_are_unique_varied_and_reproducible() -> None:
    mails = bulk_mails(10_000)
    assert len(mails) == 10_000
    items = [parse_headers(raw) for raw in mails]
    ids = [item.message_id for item in items]
    assert len(set(ids)) == 10_000
    assert not any(mid.startswith("<synthetic-") for mid in ids)
    counts: dict[str, int] = {}
    for item in items:
        action = decide(item).action
        counts[action] = counts.get(action, 0) + 1
    assert set(counts) == {"delete", "buyer_message", "escalate"}
    assert counts["delete"] + counts["buyer_message"] > 7000  # mostly Amazon's mail
    assert counts["escalate"] > 500
    lookalikes = sum(decide(item).rule == "lookalike" for item in items[:2000])
    assert 10 < lookalikes < 200
    assert bulk_mails(50, seed=3) == bulk_mails(50, seed=3)
    assert bulk_mails(50, seed=3) != bulk_mails(50, seed=4)
    assert bulk_mails(0) == []


def test_bulk_mails_parse_into_readable_text() -> None:
    for raw in bulk_mails(300, seed=1):
        item = parse_headers(raw)
        assert item.from_addr and item.subject and item.date
        text = body_text(raw)
        assert text
        assert "<p>" not in text
