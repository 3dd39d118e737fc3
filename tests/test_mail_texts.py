"""Pure units for the owner's texts about email: summaries that can be acted on, bounces
told by what bounced, auto-replies and mailing lists recognised, and the rules for them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from flows.mailbox import escalation_texts
from rpa.errors import ConfigError
from rpa.mail import kinds
from rpa.mail.body import body_text
from rpa.mail.headers import MailItem, parse_headers
from rpa.mail.rules import (
    DEFAULT_RULES,
    DEFAULT_TRUSTED_DOMAINS,
    Decision,
    Rule,
    classify,
    parse_rules,
)
from rpa.mail.summary import MIN_GIST, BounceSummary, build, cut_at_clause, summarize
from rpa.owner.notify import Notifier
from rpa.practice import mailcorpus as corpus
from rpa.text import has_hidden

POINTER = len(" Check Upwork for details.")


def decide(raw: bytes, rules: list[Rule] | None = None) -> Decision:
    return classify(parse_headers(raw), DEFAULT_RULES if rules is None else rules,
                    trusted_domains=DEFAULT_TRUSTED_DOMAINS,
                    owner_addresses=[corpus.OWNER_ADDRESS])


def headers(*lines: str, subject: str = "Hello") -> MailItem:
    raw = "\r\n".join(["From: Someone <someone@shop.example>", f"Subject: {subject}",
                       "Message-ID: <k@shop.example>", *lines, "", "Hi"])
    return parse_headers(raw.encode())


@dataclass
class Phone(Notifier):
    """The real notifier with its transport replaced by a list: what would go where."""

    out: list[tuple[str, str]] = field(default_factory=list)

    def _send(self, channel: str, text: str, title: str, only: int | None = None) -> bool:
        self.out.append((channel, text))
        return True


def phone() -> Phone:
    return Phone(initials="MS", urls={"sms": ["json://x/sms"], "details": ["json://x/d"]},
                 details_label="Upwork")


def texts_for(raw: bytes) -> tuple[str, str, str]:
    item = parse_headers(raw)
    text = body_text(raw)
    summary = (BounceSummary(kinds.read_bounce(raw)) if kinds.is_bounce(item)
               else build(item, text))
    full, short, details = escalation_texts(item, decide(raw), summary, text, room=156,
                                            pointer=POINTER)
    return (full.replace("{code}", "E007"), short.replace("{code}", "E007"),
            details.replace("{code}", "E007"))


def send(raw: bytes) -> list[tuple[str, str]]:
    full, short, details = texts_for(raw)
    p = phone()
    assert p.sms(full, details=details, short=short)
    return p.out


# --------------------------------------------------------------------------- summaries

def test_a_question_stays_a_question() -> None:
    sent = send(corpus.question_mail())
    assert [c for c, _ in sent] == ["sms"]
    assert sent[0][1] == ('E007: FastFreight Pickups wrote about "Pickup tomorrow": Can we pick '
                          "up the 40 parcels tomorrow at 9 am instead of 2:30 pm? -MS")


def test_a_hidden_character_in_an_address_is_shown_not_carried() -> None:
    raw = ("From: <ann\u200b@shop.example>\r\nSubject: Order\r\nMessage-ID: <z@shop.example>"
           "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "Could you send the invoice again?\r\n").encode()
    item = parse_headers(raw)
    assert "hidden characters in the address" in item.from_problems
    assert build(item, body_text(raw)).who == "ann\ufffd@shop.example"
    sms = [text for channel, text in send(raw) if channel == "sms"]
    assert len(sms) == 1 and not has_hidden(sms[0]), sms
    assert "@shop.example" in sms[0]


@pytest.mark.parametrize("body, end", [
    ("Will it arrive by Friday?", "Will it arrive by Friday?"),
    ("It arrived!", "It arrived!"),
    ("The boxes arrived;", "The boxes arrived."),
    ('He wrote "ship it today"', 'He wrote "ship it today".'),
    ('Did you say "Friday?"', 'Did you say "Friday?"'),
])
def test_each_sentence_ends_as_the_sender_ended_it(body: str, end: str) -> None:
    assert summarize(MailItem(from_name="Ann", subject="Boxes"), body).endswith(": " + end)


BUYER = MailItem(from_name="Jane Doe - Amazon Marketplace",
                 subject="Inquiry from Amazon customer Jane Doe (Order: 113-5520981-3307741)")
LONG_QUESTION = ("Hi, can you tell me whether the large bamboo board that I ordered last week "
                 "for my sister's wedding, which is on Saturday, will arrive by Friday, "
                 "because otherwise I have to buy another present?")


@pytest.mark.parametrize("limit", range(60, 245, 5))
def test_a_long_sentence_is_never_cut_to_a_stub(limit: int) -> None:
    whole = summarize(BUYER, LONG_QUESTION, max_chars=10_000)
    got = summarize(BUYER, LONG_QUESTION, max_chars=limit)
    assert len(got) <= limit
    if '": ' in got:  # some of the buyer's words: enough of them, cut between clauses or words
        said = got.split('": ', 1)[1]
        assert len(said.rstrip("…")) >= MIN_GIST, got
        assert said.endswith("…")
        stem = said[:-1]
        rest = whole.split('": ', 1)[1]
        assert rest.startswith(stem)
        assert rest[len(stem)] in " ,;:", got
        assert not got.startswith("Can you")
    else:  # only who wrote about what, the subject never cut mid-word
        assert got.startswith("Jane Doe - Amazon Marketplace wrote about \"Inquiry")
        assert got.endswith('".')
        shown = got.split('"', 1)[1][:-2]
        stem = shown.removesuffix("…)").removesuffix("…")
        assert BUYER.subject.startswith(stem)
        assert stem == BUYER.subject or BUYER.subject[len(stem)] in " ,;:", got
    assert got.count('"') % 2 == 0
    assert got.count("(") == got.count(")")


def test_a_clause_boundary_wins_over_a_word_boundary() -> None:
    text = ("Our delivery of 2,000 cartons is delayed by one week, because a machine broke "
            "down in the night")
    assert cut_at_clause(text, 75, min_keep=20) == (
        "Our delivery of 2,000 cartons is delayed by one week…")


def test_a_cut_closes_the_quote_it_opened() -> None:
    cut = cut_at_clause('He asked: "could you add the message to the order please', 40,
                        min_keep=20)
    assert cut == 'He asked: "could you add the message…"'


def test_summary_too_small_for_the_gist_says_who_wrote_about_what() -> None:
    item = MailItem(from_name="Li Wei - Sunrise Bamboo Co.", subject="New price list")
    text = ("From 1 April 2025 our prices for bamboo cutting boards, serving boards, chopping "
            "blocks and every other bamboo item rise by six percent.")
    assert summarize(item, text, max_chars=80) == (
        'Li Wei - Sunrise Bamboo Co. wrote about "New price list".')


def test_a_long_mail_sends_its_text_pointing_at_the_details() -> None:
    sent = send(corpus.long_supplier_mail())
    assert [c for c, _ in sent] == ["sms", "details"]
    sms, details = sent[0][1], sent[1][1]
    assert len(sms) <= 160
    assert sms.startswith("E007: Li Wei - Sunrise Bamboo Co. wrote about \"Important changes")
    assert sms.endswith('…". Check Upwork for details. -MS') or sms.endswith(
        "…. Check Upwork for details. -MS")
    said = sms.removesuffix(" Check Upwork for details. -MS")
    assert re.search(r"\w…\"?\.?$|\w\.$", said), "cut between words, never inside one"
    # the whole mail, cleaned: every paragraph, no signature block
    for words in ("floods in February", "Orders confirmed before 31 March",
                  "every Tuesday", "Please confirm by 28 March"):
        assert words in details
    assert corpus.LONG_SUPPLIER_SUBJECT in details
    assert "E007" in details


def test_a_summary_that_fits_sends_no_details() -> None:
    sent = send(corpus.unknown_mails(1)[0])
    assert [c for c, _ in sent] == ["sms"]


def test_without_a_details_channel_the_text_fits_by_itself() -> None:
    raw = corpus.long_supplier_mail()
    item = parse_headers(raw)
    full, _short, _ = escalation_texts(item, decide(raw), build(item, body_text(raw)),
                                       body_text(raw), room=156, details_channel=False)
    text = full.replace("{code}", "E007")
    p = Phone(initials="MS", urls={"sms": ["json://x/sms"]})
    assert p.fits(text)
    assert p.sms(text)
    assert p.out == [("sms", text + " -MS")]


# --------------------------------------------------------------------------- bounces

def test_a_bounce_is_told_by_what_bounced() -> None:
    raw = corpus.bounce_mail()
    assert kinds.kind_of(parse_headers(raw)) == kinds.BOUNCE
    assert decide(raw).rule == "bounce" and decide(raw).action == "escalate"
    bounce = kinds.read_bounce(raw)
    assert bounce.recipients == ["li.wei@old-sunrise-bamboo.example"]
    assert bounce.subject == "Re: New price list from 1 April 2025"
    assert bounce.status == "5.1.1"
    assert "User unknown" in bounce.reason
    sent = send(raw)
    assert sent == [("sms", 'E007: Bounce: your email "Re: New price list from 1 April 2025" to '
                            "li.wei@old-sunrise-bamboo.example was not delivered: the address "
                            "does not exist. -MS")]
    assert "mail system at host" not in sent[0][1]


def test_a_bounce_without_a_report_is_read_from_its_text() -> None:
    raw = corpus.plain_bounce_mail()
    assert kinds.is_bounce(parse_headers(raw))
    bounce = kinds.read_bounce(raw)
    assert bounce.recipients == ["orders@kartonwerk-sued.example"]
    assert bounce.subject == "Order KW-4471: new delivery date?"
    assert bounce.status == "5.2.2"
    full, _, _ = texts_for(raw)
    assert full == ('E007: Bounce: your email "Order KW-4471: new delivery date?" to '
                    "orders@kartonwerk-sued.example was not delivered: the mailbox is full.")


def test_a_bounce_that_says_little_is_not_guessed() -> None:
    raw = (b"From: MAILER-DAEMON@mx.example\r\nSubject: failure notice\r\n"
           b"Message-ID: <b@mx.example>\r\n\r\nSorry, it did not work.\r\n")
    bounce = kinds.read_bounce(raw)
    assert bounce.recipients == [] and bounce.subject == "" and bounce.reason == ""
    assert BounceSummary(bounce).fitted(240) == (
        "Bounce: an email (subject unknown) to a recipient the bounce does not name was not "
        "delivered: the bounce gives no reason.")


def test_a_delay_report_says_it_is_still_trying() -> None:
    raw = corpus.bounce_mail().replace(b"Action: failed\r\nStatus: 5.1.1",
                                       b"Action: delayed\r\nStatus: 4.4.1")
    bounce = kinds.read_bounce(raw)
    assert bounce.delayed
    assert "is delayed (the mail server keeps trying)" in BounceSummary(bounce).fitted(240)


def test_postmaster_and_null_sender_bounces() -> None:
    postmaster = MailItem(from_addr="postmaster@outlook.example",
                          from_domain="outlook.example", subject="Undeliverable: Order")
    assert kinds.is_bounce(postmaster)
    null = headers("Return-Path: <>", subject="Undelivered Mail Returned to Sender")
    assert kinds.is_bounce(null)
    assert not kinds.is_bounce(headers("Return-Path: <>", subject="Your invoice"))


# --------------------------------------------------------------------------- auto-replies, lists

@pytest.mark.parametrize("lines, subject", [
    (["Auto-Submitted: auto-replied"], "Re: Pallet"),
    (["X-Autoreply: yes"], "Re: Pallet"),
    (["X-Autorespond: yes"], "Re: Pallet"),
    (["Precedence: auto_reply"], "Re: Pallet"),
    ([], "Out of Office: Re: Pallet"),
    ([], "Automatic reply: Pallet"),
    ([], "Abwesenheitsnotiz: Palette"),
    ([], "Réponse automatique : Palette"),
])
def test_auto_replies_are_recognised(lines: list[str], subject: str) -> None:
    item = headers(*lines, subject=subject)
    assert kinds.kind_of(item) == kinds.AUTO_REPLY
    assert kinds.is_auto_reply(item) and not kinds.is_mailing_list(item)


@pytest.mark.parametrize("lines, subject", [
    (["Auto-Submitted: no"], "Re: Pallet"),
    # a notice a program sends on its own may need a person: summarised, not kept silent
    (["Auto-Submitted: auto-generated"], "Your storage invoice is due"),
    ([], "Out of office furniture order"),
    ([], "Re: Automatic reply: Pallet"),  # a person answering an auto-reply
])
def test_these_are_not_auto_replies(lines: list[str], subject: str) -> None:
    assert kinds.kind_of(headers(*lines, subject=subject)) == ""


@pytest.mark.parametrize("lines", [
    ["List-Id: Seller tips <tips.partner-news.example>"],
    ["List-Unsubscribe: <mailto:u@partner-news.example>"],
    ["Precedence: bulk"],
    ["Precedence: list"],
])
def test_mailing_lists_are_recognised(lines: list[str]) -> None:
    assert kinds.kind_of(headers(*lines)) == kinds.MAILING_LIST


def test_the_kinds_exclude_each_other_bounce_first() -> None:
    both = headers("Auto-Submitted: auto-replied", "Precedence: bulk",
                   "Content-Type: multipart/report; report-type=delivery-status; boundary=x")
    assert kinds.kind_of(both) == kinds.BOUNCE
    assert not kinds.is_auto_reply(both) and not kinds.is_mailing_list(both)
    ooo_list = headers("List-Id: <team.shop.example>", subject="Out of office")
    assert kinds.kind_of(ooo_list) == kinds.AUTO_REPLY


def test_default_rules_keep_auto_replies_and_digest_newsletters() -> None:
    auto = decide(corpus.auto_reply_mail())
    assert (auto.rule, auto.action) == ("auto_reply", "keep")
    news = decide(corpus.newsletter_mail(1))
    assert (news.rule, news.action) == ("mailing_list", "digest")
    person = decide(corpus.question_mail())
    assert (person.rule, person.action) == ("unknown", "escalate")


def test_amazon_rules_come_before_the_kinds() -> None:
    raw = (b"From: Amazon Seller Central <seller-notification@amazon.com>\r\n"
           b"Subject: Sold, ship now: Garlic Press\r\nMessage-ID: <s@amazon.com>\r\n"
           b"List-Unsubscribe: <mailto:u@amazon.com>\r\nPrecedence: bulk\r\n\r\nShip it.\r\n")
    assert decide(raw).action == "delete"


# --------------------------------------------------------------------------- rule fields

def test_kind_fields_in_the_configuration() -> None:
    rules = parse_rules([
        {"name": "texts_from_lists", "action": "escalate", "mailing_list": True},
        {"name": "acct_not_auto", "action": "keep", "auto_reply": False,
         "sender_domain": ["lopez-accounting.example"]},
    ], "rpa.yaml")
    assert rules == [Rule("texts_from_lists", "escalate", mailing_list=True),
                     Rule("acct_not_auto", "keep", sender_domain=["lopez-accounting.example"],
                          auto_reply=False)]
    assert decide(corpus.newsletter_mail(2), rules).rule == "texts_from_lists"
    # the accountant's own mail matches, her out-of-office does not
    person = corpus._plain("Here are the forms.", sender=("Maria Lopez",
                                                          "maria.lopez@lopez-accounting.example"),
                           subject="Forms", minutes=1, message_id="<f@lopez-accounting.example>")
    assert decide(person, rules).rule == "acct_not_auto"
    assert decide(corpus.auto_reply_mail(), rules).rule == "unknown"


@pytest.mark.parametrize("entry, key, words", [
    ({"name": "a", "action": "keep", "auto_reply": "yes"}, "mailbox.rules[0].auto_reply",
     "true or false"),
    ({"name": "a", "action": "keep", "bounce": True, "mailing_list": True}, "mailbox.rules[0]",
     "one kind at most"),
    ({"name": "a", "action": "keep", "mailing_list": False}, "mailbox.rules[0]",
     "at least one of"),
    ({"name": "a", "action": "summarise", "mailing_list": True}, "mailbox.rules[0].action",
     "digest"),
])
def test_bad_kind_fields_name_the_key(entry: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_rules([entry], "rpa.yaml")
    assert f"rpa.yaml: {key}:" in str(err.value)
    assert words in str(err.value)


def test_a_text_in_ucs2_is_cut_at_a_word_break() -> None:
    """A name outside GSM-7 (Łukasz) makes the text UCS-2, 70 units a text: the mailbox
    sizes the owner's text for that, and whatever the notifier still has to cut ends at a
    word, never mid-word."""
    from rpa.owner.notify import sms_room, sms_units

    raw = (b"From: =?utf-8?q?=C5=81ukasz_W=C3=B3jcik?= <lukasz@pallets.example>\r\n"
           b"Subject: Delivery of the new pallets next week\r\nMessage-ID: <l@p.example>\r\n"
           b"\r\n")
    item = parse_headers(raw)
    text = ("Could you confirm the delivery address for the new pallets next week, and "
            "whether the loading dock is open on Saturday morning?")
    notifier = Notifier(initials="MS", urls={"sms": ["json://x"], "details": ["json://y"]},
                        details_label="Upwork")
    room = sms_room(160, "ucs2") - len(notifier.initials) - 2
    full, short, _ = escalation_texts(item, classify(item, [], trusted_domains=[],
                                                     owner_addresses=[]),
                                      build(item, text), text, room=room,
                                      pointer=len(" Check Upwork for details."))
    sent = notifier.sms_text(short.replace("{code}", "E001"), has_details=True)
    assert sms_units(sent) <= 70, sent
    assert sent.endswith(" Check Upwork for details. -MS"), sent
    body = sent[:-len(" Check Upwork for details. -MS")]
    if body.endswith("…"):
        cut = body[:-1]
        assert cut.split()[-1] in short, sent  # a whole word of the summary
        assert short.replace("{code}", "E001").startswith(cut.rstrip()), sent
    long = "Ładny " * 30
    cut_text = notifier.sms_text(long, has_details=True)
    assert "Ładny…" in cut_text or cut_text.startswith("Ładny Ładny"), cut_text
    assert not re.search(r"\bŁad…|\bŁadn…|\bŁa…", cut_text), cut_text
