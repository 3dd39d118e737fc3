"""Hostile content stays inert and readable (issue 10, finding 10).

Buyer names with direction overrides or placeholder braces, texts in scripts that force
UCS-2, and a 100 KB message: one sandbox run for what crosses the browser, units for the
rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rpa.messaging.replies import (
    DEFAULT_HOLDING_TEXT,
    Decision,
    Matcher,
    ReplyBook,
    ThreadView,
    Topic,
    check_outgoing,
    skeleton,
)
from rpa.owner.notify import (
    DETAILS_LIMIT,
    Notifier,
    cap_details,
    sms_encoding,
    sms_room,
    sms_segments,
    sms_units,
    to_gsm7,
)
from rpa.practice.receiver import Receiver
from rpa.practice.sandbox.scenario import scenario_path
from rpa.run.orchestrator import run
from rpa.text import BIDI_CONTROLS, clean_line
from tests.conftest import Sandbox

RLO = "\u202e"
ARABIC_NAME = "ليلى حسن"


def _thread(tid: str, buyer: str, subject: str, text: str, hour: int) -> dict[str, Any]:
    at = f"2025-11-24T{hour:02d}:00:00+00:00"
    return {"thread_id": tid, "buyer": buyer, "order_id": f"113-5520981-33077{hour:02d}",
            "subject": subject, "received": at,
            "messages": [{"from": "buyer", "at": at, "text": text}]}


def hostile_scenario(folder: Path) -> Path:
    """The 'messages' scenario with three hostile threads instead of its own."""
    data = yaml.safe_load(scenario_path("messages").read_text())
    data["threads"] = [
        _thread("H-01", f"{RLO}retsiM\u202c Jones", f"Question{RLO}", "Can you engrave my initials "
                "on the lid?", 7),
        _thread("H-02", "{va_full_name}", "{subject}", "Do you sell the lids separately?", 8),
        _thread("H-03", ARABIC_NAME, "سؤال", "هل يمكن شحنه إلى دبي؟ 🙏", 9),
    ]
    path = folder / "hostile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_hostile_buyers_get_clean_replies_and_the_owner_clean_texts(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    sandbox.reset(str(hostile_scenario(tmp_path)))
    result = run(make_config(signed_in=True, flows=["buyer_messages"]))
    assert result.status == "ok", result.data["errors"]
    sent = {r["thread_id"]: r["text"] for r in sandbox.state()["replies"]}
    by_id = {t["thread_id"]: t for t in result.data["threads"]}

    # a direction override in the name: read as the reader saw it, sent without it
    assert sent["H-01"].startswith("Hello Mister,"), sent["H-01"]
    assert by_id["H-01"]["buyer"] == "Mister Jones"
    # a buyer named like a placeholder gets the holding reply, the name as written
    assert by_id["H-02"]["decision"] == "holding_reply" and by_id["H-02"]["sent"]
    assert sent["H-02"].startswith("Hello {va_full_name},")
    assert sent["H-02"].endswith("Maria Santos")
    # an Arabic name: the reply is sent too
    assert by_id["H-03"]["sent"] and sent["H-03"].startswith(f"Hello {ARABIC_NAME.split()[0]},")
    for text in sent.values():
        assert not set(text) & BIDI_CONTROLS

    sms = receiver.messages("sms")
    assert len(sms) == 3, sms
    for text in sms:
        assert not set(text) & BIDI_CONTROLS, text
        assert sms_segments(text) == 1, (text, sms_encoding(text), sms_units(text))
    h1 = next(t for t in sms if t.startswith(by_id["H-01"]["escalation"]))
    assert "Mister Jones" in h1
    h3 = next(t for t in sms if t.startswith(by_id["H-03"]["escalation"]))
    assert sms_encoding(h3) == "ucs2" and sms_units(h3) <= 70 and h3.endswith("-MS")
    assert ARABIC_NAME in h3


# ---- units ----------------------------------------------------------------------------

def test_clean_line_bounds_length_and_keeps_the_start() -> None:
    subject = "Question about the lid of the bamboo box " + "very " * 500 + "long"
    out = clean_line(subject, 60)
    assert len(out) <= 60 and out.startswith("Question about the lid") and out.endswith("…")
    assert clean_line(f"{RLO}retsiM", 80) == "Mister"
    assert clean_line("short", 80) == "short"


def _view(buyer: str, subject: str = "Lids") -> ThreadView:
    return ThreadView("T-1", buyer, "113-5520981-3307741", subject, [])


def _book(holding: str = DEFAULT_HOLDING_TEXT) -> ReplyBook:
    return ReplyBook(templates=[], holding_text=holding,
                     topics=[Topic("the lids", Matcher.build(["lid"]))],
                     no_response=None, va_full_name="Maria Santos")


def test_placeholders_filled_in_one_pass() -> None:
    book = _book("Hello {buyer_first_name}, about {subject}: {{literal}} {va_full_name}")
    text = book.fill(book.holding_text, _view("{va_full_name} {order_id}", "{topic}"), "t")
    assert text == "Hello {va_full_name}, about {topic}: {literal} Maria Santos"


def test_braces_from_a_buyer_never_count_as_unfilled() -> None:
    book = _book()
    view = _view("{va_full_name}", "{buyer_name}")
    text = book.fill(book.holding_text, view, "the lids")
    decision = Decision("holding_reply", text=text, skeleton=skeleton(book.holding_text))
    assert check_outgoing(decision, 4000) == []
    # a template whose own text keeps a placeholder-like word is still stopped
    odd = "Hello {buyer_first_name}, about {{topic}}. {va_full_name}"
    decision = Decision("holding_reply", text=book.fill(odd, view, "t"), skeleton=skeleton(odd))
    assert [v.rule for v in check_outgoing(decision, 4000)] == ["placeholder"]


def test_sms_encoding_and_segments() -> None:
    assert sms_encoding("Price €5 [ok]") == "gsm7" and sms_units("€[]") == 6
    assert sms_encoding("café ñ") == "gsm7"
    assert sms_encoding("thanks 🙏") == "ucs2" and sms_units("🙏") == 2
    assert sms_encoding("שלום") == "ucs2"
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2
    assert sms_segments("ب" * 70) == 1 and sms_segments("ب" * 71) == 2
    assert sms_room(160, "ucs2") == 70 and sms_room(60, "ucs2") == 60
    assert sms_room(306, "ucs2") == 134 and sms_room(306, "gsm7") == 306


def test_ucs2_text_sized_to_one_segment(receiver: Receiver) -> None:
    note = Notifier(initials="MS", urls={"sms": [receiver.url("sms")],
                                         "details": [receiver.url("details")]},
                    details_label="Upwork")
    question = "B007: " + ARABIC_NAME + " asks: " + "هل يمكن شحنه إلى دبي؟ " * 6 + "🙏"
    assert len(question) < 160 and not note.fits(question)
    assert note.sms(question, details=question, title="t")
    text = receiver.messages("sms")[0]
    assert sms_encoding(text) == "ucs2" and sms_units(text) <= 70 and sms_segments(text) == 1
    assert text.startswith("B007: ") and text.endswith("Check Upwork for details. -MS")
    assert receiver.messages("details") == [question]
    # a GSM-7 text keeps the configured 160
    plain = "B008: Tom asks: " + "can you ship it to Dubai next week please " * 5
    cut = note.sms_text(plain, has_details=True)
    assert sms_encoding(cut) == "gsm7" and len(cut) <= 160 and "…" in cut
    assert sms_encoding(to_gsm7(cut)) == "gsm7" and "..." in to_gsm7(cut)


def test_transliterate_keeps_gsm7() -> None:
    note = Notifier(initials="MS", urls={}, transliterate=True)
    text = note.sms_text("Zoë “Łukasz” Dvořák 🙏 asks – where?")
    assert sms_encoding(text) == "gsm7", text
    assert text == 'Zoe "Lukasz" Dvorak asks - where? -MS'
    assert to_gsm7(ARABIC_NAME) == "???? ???"


def test_100kb_details_are_capped(receiver: Receiver) -> None:
    body = ("The lid does not close and I would like to know what to do. " * 1700)[:100_000]
    capped = cap_details(body)
    assert len(capped) <= DETAILS_LIMIT + 60
    assert capped.endswith("more characters not sent)")
    note = Notifier(initials="MS", urls={"sms": [receiver.url("sms")],
                                         "details": [receiver.url("details")]})
    assert note.sms("B009: a long question", details=body, short="B009: long")
    assert note.sms("B010: " + body, details="B010 " + body, short="B010: long")
    assert note.details(body)
    details = receiver.messages("details")
    assert len(details) == 2 and all(len(d) <= DETAILS_LIMIT + 60 for d in details)
    assert all(d.rsplit("\n", 1)[1].endswith("more characters not sent)") for d in details)
