"""Pure units for trusting mail: Authentication-Results, From parsing, Amazon's domains,
look-alikes, text hygiene and the owner's warning text."""

from __future__ import annotations

from typing import Any

import pytest

from flows.mailbox import warning_texts
from rpa.config import parse_config
from rpa.errors import ConfigError
from rpa.mail import auth
from rpa.mail.amazon import AMAZON_DOMAINS, RELAY_DOMAINS, load_amazon_domains, mentions_amazon
from rpa.mail.headers import (
    MailItem,
    _clean_header,
    decode_words,
    parse_headers,
    parse_sender,
    synthetic_id,
)
from rpa.mail.rules import (
    DEFAULT_RULES,
    DEFAULT_TRUSTED_DOMAINS,
    PHISHING,
    UNVERIFIED,
    AuthPolicy,
    Decision,
    classify,
)
from rpa.practice.mailcorpus import (
    AUTHSERV_ID,
    authentication_results,
    relay_buyer_mail,
    trust_mails,
)
from rpa.seller_central import messages
from rpa.text import clean_line, clean_text, has_hidden, latin_skeleton, show_hidden, visual_order

RECEIVER = AUTHSERV_ID
GMAIL = ("mx.google.com; dkim=pass header.i=@amazon.com header.s=x header.b=AbC; "
         "spf=pass (google.com: domain of bounce@amazon.com designates 1.2.3.4 as permitted "
         "sender) smtp.mailfrom=bounce@amazon.com; dmarc=pass (p=QUARANTINE sp=QUARANTINE "
         "dis=NONE) header.from=amazon.com")
EXCHANGE = ("spf=pass (sender IP is 52.95.48.1) smtp.mailfrom=amazon.com; dkim=pass "
            "(signature was verified) header.d=amazon.com;dmarc=pass action=none "
            "header.from=amazon.com;compauth=pass reason=100")


def mail(from_value: str, subject: str = "Hello", *results: str) -> MailItem:
    head = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    raw = f"{head}From: {from_value}\r\nSubject: {subject}\r\nMessage-ID: <t@x>\r\n\r\n"
    return parse_headers(raw.encode("utf-8"))


def decide(item: MailItem, **policy: Any) -> Decision:
    """The decision with the practice mailbox's receiving server configured (unless the
    test sets ``authserv_id`` itself)."""
    policy.setdefault("authserv_id", RECEIVER)
    return classify(item, DEFAULT_RULES, trusted_domains=DEFAULT_TRUSTED_DOMAINS,
                    owner_addresses=["owner@acme-goods.example"],
                    auth_policy=AuthPolicy(**policy))


def aligned(d: str, from_domain: str) -> bool:
    return d == from_domain or from_domain.endswith("." + d)


TOP = "the top header's"


def verdict(*values: str, domain: str = "amazon.com", authserv_id: str | None = TOP
            ) -> auth.Verdict:
    """The verdict with the server that wrote the top header configured as the trusted
    receiver (unless the test names one, or None for an unset mailbox.authserv_id)."""
    if authserv_id == TOP:
        authserv_id = auth.parse_authentication_results(values[0]).authserv_id if values \
            else None
    return auth.verify(list(values), domain, authserv_id=authserv_id, aligned=aligned)


# --------------------------------------------------------------------------- parsing RFC 8601

def test_gmail_header_parses_with_comments_and_properties() -> None:
    header = auth.parse_authentication_results(GMAIL)
    assert header.authserv_id == "mx.google.com"
    assert [(r.method, r.result) for r in header.results] == [
        ("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]
    dkim, spf, dmarc = header.results
    assert dkim.props["header.i"] == "@amazon.com"
    assert spf.props["smtp.mailfrom"] == "bounce@amazon.com"
    assert dmarc.props["header.from"] == "amazon.com"
    assert "QUARANTINE" not in str(dmarc.props)  # the comment is gone


def test_header_without_authserv_id_as_exchange_online_writes_it() -> None:
    header = auth.parse_authentication_results(EXCHANGE)
    assert header.authserv_id == ""
    assert {r.method: r.result for r in header.results} == {
        "spf": "pass", "dkim": "pass", "dmarc": "pass", "compauth": "pass"}
    assert header.results[3].reason == "100"


@pytest.mark.parametrize("value, expected", [
    ("example.org 1; none", ("example.org", [])),
    ('"quoted.example" ; dkim/1 = pass header.d = a.example', ("quoted.example",
                                                                [("dkim", "pass")])),
    ("MX.Example.ORG; SPF=SoftFail smtp.mailfrom=x@b.example", ("mx.example.org",
                                                                [("spf", "softfail")])),
    ("mx.example (a (nested) comment); dmarc=fail (p=reject) header.from=a.example",
     ("mx.example", [("dmarc", "fail")])),
    ("", ("", [])),
    ("mx.example; garbage; ;=; dkim=pass", ("mx.example", [("dkim", "pass")])),
])
def test_parsing_is_lenient(value: str, expected: tuple[str, list[tuple[str, str]]]) -> None:
    header = auth.parse_authentication_results(value)
    assert (header.authserv_id, [(r.method, r.result) for r in header.results]) == expected


# --------------------------------------------------------------------------- verdicts

def test_dmarc_pass_authenticates() -> None:
    v = verdict(GMAIL)
    assert (v.status, v.authserv_id) == ("pass", "mx.google.com")


def test_dmarc_fail_fails_even_with_a_dkim_pass() -> None:
    v = verdict(f"{RECEIVER}; dkim=pass header.d=amazon.com; dmarc=fail header.from=amazon.com")
    assert v.status == "fail" and "dmarc=fail" in v.why


def test_without_dmarc_an_aligned_dkim_pass_authenticates() -> None:
    assert verdict(f"{RECEIVER}; dkim=pass header.d=amazon.com; spf=none",
                   domain="seller-notification.amazon.com").status == "pass"
    assert verdict(f"{RECEIVER}; dkim=pass header.d=amazon.com; dmarc=temperror").status == \
        "pass"


def test_a_dkim_pass_for_another_domain_is_not_enough() -> None:
    v = verdict(f"{RECEIVER}; dkim=pass header.d=bulk-mailer.example; spf=pass "
                "smtp.mailfrom=x@bulk-mailer.example")
    assert v.status == "none"
    assert v.envelope == "bulk-mailer.example"


def test_spf_or_dkim_fail_alone_is_a_failure() -> None:
    assert verdict(f"{RECEIVER}; spf=fail smtp.mailfrom=amazon.com").status == "fail"
    assert verdict(f"{RECEIVER}; spf=softfail smtp.mailfrom=amazon.com").status == "fail"
    assert verdict(f"{RECEIVER}; dkim=fail header.d=amazon.com").status == "fail"


def test_forwarded_mail_with_dmarc_pass_but_spf_fail_is_authenticated() -> None:
    v = verdict(f"{RECEIVER}; spf=fail smtp.mailfrom=list.example; dkim=pass "
                "header.d=amazon.com; dmarc=pass header.from=amazon.com")
    assert v.status == "pass"


def test_dmarc_pass_for_another_from_domain_does_not_count() -> None:
    v = verdict(f"{RECEIVER}; dmarc=pass header.from=evil.example")
    assert v.status == "none"


def test_a_header_from_another_authserv_id_is_ignored() -> None:
    forged = authentication_results(authserv_id="mx.google.com")
    fail = authentication_results(dmarc="fail", dkim="fail", spf="fail")
    # the receiving server's header on top decides; the forged pass below is not read
    assert verdict(fail, forged).status == "fail"
    # with the authserv-id configured, a mail carrying only a forged header is not trusted
    v = verdict(forged, authserv_id=RECEIVER)
    assert v.status == "none" and "mx.google.com" in v.why
    assert verdict(forged, authserv_id="MX.GOOGLE.COM").status == "pass"


def test_a_forged_header_with_the_same_authserv_id_below_cannot_add_a_pass() -> None:
    real = authentication_results(dmarc="fail", dkim="fail", spf="fail")
    forged = authentication_results()
    assert verdict(real, forged, authserv_id=RECEIVER).status == "fail"


def test_with_no_authserv_id_configured_no_header_authenticates_anything() -> None:
    # On a host that adds no Authentication-Results, the top header is the sender's own.
    forged = authentication_results(authserv_id="mx.google.com")
    v = verdict(forged, authserv_id=None)
    assert v.status == "absent" and "authserv_id is not set" in v.why
    fail = authentication_results(dmarc="fail", dkim="fail", spf="fail")
    assert verdict(fail, authserv_id=None).status == "absent", "nor fails it"
    # For Amazon's mail: as if it had none, so the when-present policy decides and says so
    dec = decide(mail("Amazon Seller Central <seller-notification@amazon.com>",
                      "Sold, ship now: boards", forged), authserv_id=None)
    assert (dec.rule, dec.action) == ("sold_ship_now", "delete")
    assert "not set" in dec.note and "when-present" in dec.note
    dec = decide(mail("Amazon Seller Central <seller-notification@amazon.com>",
                      "Sold, ship now: boards", forged), authserv_id=None, required=True)
    assert (dec.rule, dec.action, dec.warning) == ("unverified_amazon", "escalate", UNVERIFIED)


def test_only_the_first_header_with_the_configured_id_counts() -> None:
    real = authentication_results(dmarc="none", dkim="none", spf="none")
    forged = authentication_results()  # a pass, with the same id, written by the sender
    assert verdict(real, forged, authserv_id=RECEIVER).status == "none"
    assert auth.stamped([real, forged], RECEIVER)
    assert not auth.stamped([authentication_results(authserv_id="mx.google.com")], RECEIVER)
    assert not auth.stamped([], RECEIVER)


def test_no_header_is_absent() -> None:
    assert verdict().status == "absent"
    assert verdict(authserv_id=RECEIVER).status == "absent"


# --------------------------------------------------------------------------- classify: trust

def test_authenticated_amazon_notice_goes_to_trash() -> None:
    dec = decide(mail("Amazon Seller Central <seller-notification@amazon.com>",
                      "Sold, ship now: boards", authentication_results()))
    assert (dec.rule, dec.action, dec.warning) == ("sold_ship_now", "delete", "")
    assert "authenticated" in dec.note


def test_spoofed_amazon_notice_is_phishing_never_deleted() -> None:
    fail = authentication_results(dmarc="fail", dkim="fail", spf="fail",
                                  envelope="bulk-mailer.example")
    for subject in ("Sold, ship now: boards", "Your disbursements are on hold"):
        dec = decide(mail("Amazon Payments <payments@amazon.com>", subject, fail))
        assert (dec.rule, dec.action, dec.warning) == ("spoofed_amazon", "escalate", PHISHING)
        assert dec.sender == "'Amazon Payments' from bulk-mailer.example posing as amazon.com"
        assert "dmarc=fail" in dec.note


def test_no_header_when_present_trusts_the_domain_and_says_so() -> None:
    dec = decide(mail("Amazon Seller Central <seller-notification@amazon.com>",
                      "Sold, ship now: boards"))
    assert (dec.rule, dec.action) == ("sold_ship_now", "delete")
    assert "when-present" in dec.note and "not authenticated" in dec.note


def test_no_header_under_required_is_not_trusted() -> None:
    dec = decide(mail("Amazon Seller Central <seller-notification@amazon.com>",
                      "Sold, ship now: boards"), required=True)
    assert (dec.rule, dec.action, dec.warning) == ("unverified_amazon", "escalate", UNVERIFIED)
    assert "mailbox.authentication: required" in dec.note
    assert dec.sender == "'Amazon Seller Central' from amazon.com (not authenticated)"


def test_only_a_foreign_header_is_not_trusted_even_when_present() -> None:
    item = mail("Amazon Seller Central <seller-notification@amazon.com>",
                "Sold, ship now: boards", authentication_results(authserv_id="relay.example"))
    dec = decide(item, authserv_id=RECEIVER)
    assert (dec.rule, dec.action) == ("unverified_amazon", "escalate")


def test_lookalike_names_the_real_domain() -> None:
    dec = decide(mail("Amazon Seller Support <support@amaz0n-seller-support.com>", "Hi"))
    assert (dec.rule, dec.warning) == ("lookalike", PHISHING)
    assert dec.sender == "'Amazon Seller Support' from amaz0n-seller-support.com"


def test_unicode_domain_is_shown_in_punycode() -> None:
    dec = decide(mail("Support <help@\u0430mazon-help.example>", "Verify"))  # Cyrillic а
    assert dec.rule == "lookalike"
    assert "xn--" in dec.sender and "\u0430" not in dec.sender


# --------------------------------------------------------------------------- From parsing

@pytest.mark.parametrize("value, name, addr, problem", [
    ("seller-notification@amazon.com <billing@pay-verify.example>",
     "seller-notification@amazon.com", "billing@pay-verify.example", "shows the address"),
    ('"seller-notification@amazon.com" <billing@pay-verify.example>',
     "seller-notification@amazon.com", "billing@pay-verify.example", "shows the address"),
    ("Ann <ann@one.example>, Bob <bob@two.example>", "Ann", "ann@one.example",
     "2 From addresses"),
    ("Amazon Seller Central <>", "Amazon Seller Central", "", "an empty address"),
    ("Amazon Seller Central", "Amazon Seller Central", "", "no sender address"),
    ("", "", "", "no From header"),
    ("Amazon <a@amazon.com@evil.example>", "Amazon", "a@amazon.com@evil.example",
     "malformed address"),
    ("Amazon <support@amazon.com> <x@evil.example>", "Amazon", "x@evil.example",
     "two addresses in one sender"),
    ("seller-notification@amazon.com billing@pay-verify.example",
     "seller-notification@amazon.com", "billing@pay-verify.example", "outside angle brackets"),
    ("Amazon <supp\u200bort@amazon.com>", "Amazon", "supp\u200bort@amazon.com",
     "hidden characters in the address"),
])
def test_from_problems(value: str, name: str, addr: str, problem: str) -> None:
    sender = parse_sender(value)
    assert (sender.name, sender.addr) == (name, addr)
    assert any(problem in p for p in sender.problems), sender.problems


@pytest.mark.parametrize("value, name, addr", [
    ("Doe, Jane <Jane@Doe.example>", "Doe, Jane", "jane@doe.example"),
    ('"Doe, Jane" <j@d.example>', "Doe, Jane", "j@d.example"),
    ('"support@amazon.com" <support@amazon.com>', "support@amazon.com", "support@amazon.com"),
    ("Amazon <support@amazon.com> (a comment)", "Amazon", "support@amazon.com"),
    ("support@amazon.com (Amazon Support)", "Amazon Support", "support@amazon.com"),
    ("=?utf-8?q?J=C3=BCrgen?= <j@k.example>", "Jürgen", "j@k.example"),
    ('"Quote \\" inside" <q@x.example>', 'Quote " inside', "q@x.example"),
    ("Re: Amazon <a@b.example>", "Re: Amazon", "a@b.example"),
    ("Team: one@a.example;", "", "one@a.example"),
])
def test_sound_from_headers(value: str, name: str, addr: str) -> None:
    sender = parse_sender(value)
    assert (sender.name, sender.addr, sender.problems) == (name, addr, ())


def test_address_in_an_unquoted_display_name_is_read_as_the_angle_address() -> None:
    item = mail("seller-notification@amazon.com <billing@pay-verify.example>",
                "Sold, ship now: boards", authentication_results(domain="pay-verify.example"))
    assert (item.from_addr, item.from_domain) == ("billing@pay-verify.example",
                                                  "pay-verify.example")
    dec = decide(item)
    assert (dec.rule, dec.action, dec.warning) == ("suspicious_from", "escalate", PHISHING)
    assert dec.sender == "'seller-notification@amazon.com' from pay-verify.example"


def test_several_from_claiming_amazon_is_never_trusted() -> None:
    item = mail("Amazon Seller Central <seller-notification@amazon.com>, "
                "<billing@pay-verify.example>", "Sold, ship now: boards",
                authentication_results())
    assert item.from_others == ("billing@pay-verify.example",)
    dec = decide(item)
    assert (dec.rule, dec.action) == ("suspicious_from", "escalate")
    assert "2 From addresses" in dec.note
    assert dec.sender == "'Amazon Seller Central' from amazon.com and pay-verify.example"


def test_two_from_header_lines_are_a_problem() -> None:
    raw = (b"From: Amazon <seller-notification@amazon.com>\r\n"
           b"From: Billing <billing@pay-verify.example>\r\nSubject: Sold, ship now: x\r\n\r\n")
    item = parse_headers(raw)
    assert "2 From headers" in item.from_problems
    assert decide(item).rule == "suspicious_from"


def test_empty_address_claiming_amazon_is_escalated_with_a_warning() -> None:
    dec = decide(mail("Amazon Seller Central <>", "Sold, ship now: boards"))
    assert (dec.rule, dec.warning) == ("suspicious_from", PHISHING)
    assert dec.sender == "'Amazon Seller Central' from no address"


@pytest.mark.parametrize(("from_value", "sender"), [
    # Amazon's address is the second of several, not the first
    ("<billing@pay-verify.example>, Amazon Seller Central <seller-notification@amazon.com>",
     "pay-verify.example and amazon.com"),
    # Amazon's domain inside a malformed address that really ends elsewhere
    ("Billing <seller-notification@amazon.com@pay-verify.example>",
     "'Billing' from pay-verify.example"),
    ("seller-notification@amazon.com@pay-verify.example", "pay-verify.example"),
])
def test_amazon_anywhere_in_an_unsound_from_is_a_warning(from_value: str, sender: str) -> None:
    dec = decide(mail(from_value, "Sold, ship now: boards", authentication_results()))
    assert (dec.rule, dec.action, dec.warning) == ("suspicious_from", "escalate", PHISHING)
    assert dec.sender == sender


def test_an_unsound_from_that_does_not_claim_amazon_is_unknown_with_a_note() -> None:
    dec = decide(mail("Ann <ann@one.example>, Bob <bob@two.example>", "Lunch?"))
    assert (dec.rule, dec.action, dec.warning) == ("unknown", "escalate", "")
    assert "not sound" in dec.note


def test_the_address_not_the_name_decides_the_rules() -> None:
    # A display name in quotes that names Amazon's address gets no Amazon rule either.
    dec = decide(mail('"Jane Doe - Amazon Marketplace" <jane@mail.example>',
                      "Question about order 113-5520981-3307741"))
    assert dec.action == "escalate" and dec.rule in ("lookalike", "suspicious_from")
    trusted = decide(mail('"Jane Doe - Amazon Marketplace" <abc@marketplace.amazon.com>',
                          "Question about order 113-5520981-3307741",
                          authentication_results(domain="marketplace.amazon.com")))
    assert (trusted.action, trusted.buyer_name) == ("buyer_message", "Jane Doe")


# --------------------------------------------------------------------------- Amazon's domains

MARKETPLACE_TLDS = ["com", "ca", "com.mx", "com.br", "co.uk", "ie", "de", "fr", "it", "es",
                    "nl", "se", "pl", "com.be", "com.tr", "ae", "sa", "eg", "co.za", "in",
                    "co.jp", "com.au", "sg"]


def test_every_marketplace_and_its_relay_is_in_the_data_file() -> None:
    for tld in MARKETPLACE_TLDS:
        assert f"amazon.{tld}" in DEFAULT_TRUSTED_DOMAINS, tld
        assert f"marketplace.amazon.{tld}" in RELAY_DOMAINS, tld
    retail = {d.domain for d in AMAZON_DOMAINS if d.kind == "retail"}
    assert {r.removeprefix("marketplace.") for r in RELAY_DOMAINS} == retail
    assert len(DEFAULT_TRUSTED_DOMAINS) == len(set(DEFAULT_TRUSTED_DOMAINS))
    assert all(d.marketplace for d in AMAZON_DOMAINS)


def test_a_bad_line_in_the_domain_file_is_refused() -> None:
    assert load_amazon_domains("# c\namazon.nl relay Netherlands\n")[0].kind == "relay"
    with pytest.raises(ValueError, match="line 2"):
        load_amazon_domains("amazon.com retail US\namazon.nl shop Netherlands\n")


@pytest.mark.parametrize("relay", RELAY_DOMAINS)
def test_a_buyer_email_from_every_relay_is_a_buyer_email(relay: str) -> None:
    item = parse_headers(relay_buyer_mail(relay, 3))
    dec = decide(item, authserv_id=RECEIVER)
    assert (dec.rule, dec.action) == ("buyer_message", "buyer_message"), dec.note
    assert (dec.buyer_name, dec.order_id) == ("Tom Becker", "114-2271096-5540018")
    assert "authenticated" in dec.note
    unauthenticated = decide(parse_headers(relay_buyer_mail(relay, 3, authenticated=False)))
    assert unauthenticated.action == "buyer_message"
    assert decide(parse_headers(relay_buyer_mail(relay, 3, authenticated=False)),
                  required=True).rule == "unverified_amazon"


def test_a_relay_lookalike_is_not_a_buyer() -> None:
    dec = decide(mail("Jane Doe - Amazon Marketplace <x@marketplace.amazon.nl.evil.example>",
                      "Question", authentication_results(domain="evil.example")))
    assert (dec.rule, dec.action) == ("lookalike", "escalate")


# --------------------------------------------------------------------------- configuration

def _config(**mailbox: Any) -> Any:
    data = {"accounts": [{"name": "a", "email": "s@example.com", "password_env": "P",
                          "totp_secret_env": "T"}],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "mailbox": {"host": "imap.example.com", "user": "u", "password_env": "M",
                        **mailbox}}
    return parse_config(data, "m.yaml")


def test_trusted_domains_extend_the_list_unless_replaced() -> None:
    assert _config().trusted_domains() == DEFAULT_TRUSTED_DOMAINS
    extended = _config(trusted_domains=["Amazon.CN"]).trusted_domains()
    assert extended == [*DEFAULT_TRUSTED_DOMAINS, "amazon.cn"]
    same = _config(trusted_domains={"add": ["amazon.cn"]}).trusted_domains()
    assert same == extended
    only = _config(trusted_domains={"add": ["amazon.cn"], "replace": True}).trusted_domains()
    assert only == ["amazon.cn"]
    cfg = _config(authserv_id="MX.Google.com", authentication="required")
    assert (cfg.mailbox.authserv_id, cfg.mailbox.authentication) == ("mx.google.com",
                                                                     "required")
    assert _config().mailbox.authentication == "when-present"
    assert _config().mailbox.authserv_id is None
    assert _config().mailbox.max_texts_per_run == 10  # the default for a backlog


@pytest.mark.parametrize("mailbox, key, words", [
    ({"trusted_domains": {"add": [], "replace": True}}, "mailbox.trusted_domains",
     "replace: true needs"),
    ({"trusted_domains": ["x@amazon.cn"]}, "mailbox.trusted_domains.add", "give its domain"),
    ({"trusted_domains": ["com"]}, "mailbox.trusted_domains.add", "not a domain name"),
    ({"trusted_domains": {"add": ["a.example"], "replce": True}},
     "mailbox.trusted_domains.replce", "unknown key"),
    ({"authentication": "always"}, "mailbox.authentication", "required"),
    ({"authserv_id": "mx google"}, "mailbox.authserv_id", "not an authserv-id"),
])
def test_bad_trust_config_names_the_key(mailbox: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        _config(**mailbox)
    assert f"m.yaml: {key}:" in str(err.value) and words in str(err.value)


# --------------------------------------------------------------------------- text hygiene

def test_direction_override_in_a_sender_name() -> None:
    item = mail("\u202etroppuS relleS nozamA\u202c <support@pay-verify.example>",
                "Your account is on hold")
    assert item.from_name == "Amazon Seller Support"  # as the phone showed it, controls gone
    assert "hidden characters in the sender name" in item.from_problems
    dec = decide(item)
    assert (dec.rule, dec.warning) == ("suspicious_from", PHISHING)
    assert dec.sender == "'Amazon Seller Support' from pay-verify.example"


def test_zero_width_in_amazon() -> None:
    item = mail("Am\u200bazon Seller Support <support@pay-verify.example>",
                "Your Am\u200bazon account")
    assert item.from_name == "Amazon Seller Support"
    assert item.subject == "Your Amazon account"
    dec = decide(item)
    assert dec.warning == PHISHING and "\u200b" not in dec.sender + dec.note


@pytest.mark.parametrize("raw, clean", [
    ("\u202eabc\u202c def", "cba def"),
    ("a\u202d\u202ecb\u202cd\u202c", "abcd"),
    ("x\u2067\u202eyz\u202c\u2069w", "xzyw"),
    ("\u200eJane\u200f \u2066Doe\u2069", "Jane Doe"),
    ("Ja\u00adne\ufeff\u2060\u200c\u200d \u061cDoe", "Jane Doe"),
    ("Jane\u00a0\u2003Doe\u3000", "Jane Doe"),
    ("tag\U000e0041\U000e0042s", "tags"),
    ("line\none\x07", "line one"),
    ("\u05e9\u05dc\u05d5\u05dd \u200fשרה", "\u05e9\u05dc\u05d5\u05dd שרה"),  # Hebrew kept
])
def test_clean_line(raw: str, clean: str) -> None:
    assert clean_line(raw) == clean
    assert not has_hidden(clean_line(raw))


def test_clean_text_keeps_lines_and_shows_hidden() -> None:
    assert clean_text("Hi\u200b there,\nthe\u202e box\n") == "Hi there,\nthe box\n"
    assert show_hidden("am\u200bazon.com") == "am\ufffdazon.com"
    assert show_hidden("amazon.com") == "amazon.com"
    assert visual_order("plain") == "plain"


@pytest.mark.parametrize("text", [
    "Amazon", "Αmazon", "\u0430m\u0430zon", "𝐀𝐦𝐚𝐳𝐨𝐧", "ａｍａｚｏｎ", "Am\u200bazon",
    "ɑmazon", "\u202enozamA\u202c", "AMAZ0N", "arnazon", "Amaz\u00f3n", "A\u0301mazon",
    "ꓮmazon", "Amazᴏn",
])
def test_confusables_skeleton_to_amazon(text: str) -> None:
    assert "amazon" in latin_skeleton(text), latin_skeleton(text)
    assert mentions_amazon(text)


@pytest.mark.parametrize("text", ["Ramazan Yilmaz", "amazing deals", "Jürgen Müller",
                                  "山田太郎", "Сергей", ""])
def test_ordinary_names_do_not_skeleton_to_amazon(text: str) -> None:
    assert not mentions_amazon(text)


def test_synthetic_id_does_not_change_with_hygiene() -> None:
    raw = b"From: a@x.example\r\nSubject: Am\xe2\x80\x8bazon\r\nDate: Tue, 11 Mar 2025\r\n\r\n"
    item = parse_headers(raw)
    expected = synthetic_id("Tue, 11 Mar 2025", "a@x.example",
                            _clean_header(decode_words("Am\u200bazon")))
    assert item.message_id == expected
    assert item.subject == "Amazon"


class _FakeSelectors:
    """Stands in for the locator file: returns fixed texts for a key."""

    def __init__(self, texts: dict[str, list[str]]) -> None:
        self._texts = texts

    def texts(self, scope: Any, key: str) -> list[str]:
        return self._texts.get(key, [])


def test_buyer_names_and_subjects_from_seller_central_are_cleaned() -> None:
    sel = _FakeSelectors({"thread.buyer": ["", "\u202eeoD enaJ\u202c"],
                          "thread.subject": ["Gift\u200b box?\n"]})
    assert messages._text(sel, None, "thread.buyer") == "Jane Doe"
    assert messages._text(sel, None, "thread.subject") == "Gift box?"
    assert messages._text(sel, None, "thread.order_id") == ""


# --------------------------------------------------------------------------- the owner's text

def test_phishing_text_names_the_real_domain() -> None:
    item = parse_headers(trust_mails()["address_in_name"])
    dec = decide(item)
    full, short = warning_texts(item, dec, room=156)
    assert full.startswith("{code}: Possible phishing: 'seller-notification@amazon.com' from "
                           "pay-verify.example about \"Sold, ship now")
    assert full.endswith("Not deleted.")
    assert len(full.replace("{code}", "E00001")) <= 156
    assert short == ("{code}: Possible phishing: 'seller-notification@amazon.com' from "
                     "pay-verify.example. Not deleted.")


def test_phishing_text_for_a_spoof_names_where_it_was_sent_from() -> None:
    item = parse_headers(trust_mails()["spoofed_disbursement"])
    full, _ = warning_texts(item, decide(item), room=156)
    assert full == ("{code}: Possible phishing: 'Amazon Payments' from bulk-mailer.example "
                    "posing as amazon.com about \"Your disbursements are on hold\". "
                    "Not deleted.")


def test_warning_text_cuts_the_subject_never_the_sender() -> None:
    item = mail("Amazon Seller Support <support@amaz0n-seller-support.com>", "x" * 200)
    full, short = warning_texts(item, decide(item), room=120)
    assert "from amaz0n-seller-support.com about \"xxx" in full and "…\"" in full
    assert len(full.replace("{code}", "E00001")) <= 120
    tiny, _ = warning_texts(item, decide(item), room=60)
    assert tiny == short
