"""A one- or two-sentence summary of an email for the owner's text message.

Built from the sender, the subject and the first meaningful sentences of the body
(greetings and pleasantries skipped), each sentence ending as the sender ended it; a
bounce is summarised by what bounced. When room is short the summary gives up whole
parts first (the second sentence, then subject words), cuts a sentence only at a clause
boundary and only while enough of it is left to be useful, and otherwise says only who
wrote about what. Deterministic, and pure like the rest of the mail reading.
"""

from __future__ import annotations

import re

from rpa.mail.headers import MailItem
from rpa.mail.kinds import Bounce, status_words
from rpa.text import show_hidden

_GREETING_LINE = re.compile(
    r"^(hi|hello|hey|hiya|dear|good\s+(morning|afternoon|evening|day)|greetings|hallo|"
    r"guten\s+tag|bonjour|hola|to\s+whom\s+it\s+may\s+concern)\b[^.!?:,]{0,40}[,!:.]?$", re.I)
_GREETING_PREFIX = re.compile(
    r"^(hi|hello|hey|hiya|dear|good\s+(morning|afternoon|evening|day)|greetings|hallo|"
    r"guten\s+tag|bonjour|hola|to\s+whom\s+it\s+may\s+concern)\b[^.!?:,]{0,40}[,!:]\s+", re.I)
_FILLER = re.compile(
    r"^(i\s+)?(hope|trust)\s+(this|that|you|all|your|everything)\b.*\b(well|good|great)\b|"
    r"^(many\s+)?thanks?(\s+you)?\s+(so\s+much\s+)?for\s+(your|the)\s+"
    r"(e-?mail|message|reply|note|response)\b|^i\s+am\s+writing\s+to\s+you\b[.!]?$", re.I)
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "mr.", "mrs.", "ms.", "dr.", "no.", "approx.",
                  "vs.", "inc.", "ltd.", "co.", "st.", "nr.", "ca.", "jan.", "feb.", "mar.",
                  "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def _split_sentences(paragraph: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(paragraph):
        candidate = paragraph[start:m.start()].rstrip()
        last_word = candidate.rsplit(None, 1)[-1].lower() if candidate.split() else ""
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last_word):
            continue
        nxt = paragraph[m.end():m.end() + 1]
        if nxt and nxt.islower():
            continue
        pieces.append(paragraph[start:m.end()].strip())
        start = m.end()
    pieces.append(paragraph[start:].strip())
    return [p for p in pieces if p]


_HONORIFIC = re.compile(r"\b(mr|mrs|ms|dr|prof)\.", re.I)


def _is_greeting(line: str) -> bool:
    return bool(_GREETING_LINE.match(_HONORIFIC.sub(r"\1", line)))


def _meaningful(sentence: str) -> bool:
    words = re.findall(r"\w+", sentence)
    if len(words) < 2 and len(sentence) < 12:
        return False
    if _is_greeting(sentence) or _FILLER.match(sentence):
        return False
    return bool(re.search(r"[^\W\d_]", sentence))


def key_sentences(text: str, limit: int = 2) -> list[str]:
    """The first ``limit`` meaningful sentences of a body, greetings and filler skipped."""
    found: list[str] = []
    paragraphs = re.split(r"\n\s*\n", text)
    for paragraph in paragraphs:
        lines = [ln.strip() for ln in paragraph.split("\n") if ln.strip()]
        lines = [ln for ln in lines if not _is_greeting(ln)]
        if not lines:
            continue
        first = lines[0]
        greeting = _GREETING_PREFIX.match(_HONORIFIC.sub(r"\1", first))
        if greeting:
            first = _HONORIFIC.sub(r"\1", first)[greeting.end():]
        joined = " ".join([first, *lines[1:]]).strip()
        for sentence in _split_sentences(joined):
            sentence = sentence.lstrip("-*• ").strip()
            if not _meaningful(sentence):
                continue
            if sentence[:1].islower():
                sentence = sentence[0].upper() + sentence[1:]
            found.append(sentence)
            if len(found) >= limit:
                return found
    return found


# The 1–2 sentence summary the owner is sent when it fits one text, and the most of it
# kept anywhere (the report, the details).
SUMMARY_CHARS = 240
# Fewer characters of the sender's own words than this say nothing ("Can you…"): a
# text then names the sender and subject only and the details carry the rest.
MIN_GIST = 40
_OPEN_CLOSE = {'"': '"', "“": "”", "«": "»", "(": ")", "[": "]", "„": "“"}
_CLOSERS = "\"'”’»)]"
_CLAUSE = re.compile(r"(?<=[,;:)])\s|\s(?=[–—-]\s)|\s(?=\()|"
                     r"\s(?=(and|but|or|so|because|since|which|who|when|while|if|unless|"
                     r"although|though|as|until|before|after|then|otherwise|und|aber|weil|"
                     r"et|mais|parce|y|pero|porque|e|ma|perché)\s)", re.I)


def end_sentence(text: str) -> str:
    """A sentence with its own end kept ("…tomorrow?" stays a question); a trailing comma,
    colon or semicolon becomes a period, and a sentence without an end gets one."""
    text = text.rstrip()
    if not text:
        return text
    core = text.rstrip(_CLOSERS)
    if core and core[-1] in ".!?…":
        return text
    if text[-1] in ",;:":
        return text[:-1].rstrip() + "."
    return text + "."


def _balanced(text: str) -> str:
    """Close what a cut left open: an opening quote or bracket gets its closer."""
    stack: list[str] = []
    for ch in text:
        if stack and ch == stack[-1]:
            stack.pop()
        elif ch in _OPEN_CLOSE and not (ch == '"' and '"' in stack):
            stack.append(_OPEN_CLOSE[ch])
        elif ch == '"' and '"' in stack:
            while stack and stack.pop() != '"':
                pass
    return text + "".join(reversed(stack))


def _tidy_end(text: str) -> str:
    return text.rstrip(" ,;:-–—(\"'“„«[")


def cut_at_clause(text: str, limit: int, *, min_keep: int = 0,
                  words: bool = True) -> str | None:
    """``text`` cut to at most ``limit`` characters with "…", at the last clause boundary
    (after a comma, semicolon, colon or bracket, before a dash or a conjunction) that
    keeps at least ``min_keep`` characters; without one, at the last word boundary if
    ``words``. An opened quote or bracket is closed. None when no such cut fits."""
    if len(text) <= limit:
        return text
    for reserve in range(1, 4):  # room for "…" and closers of what is left open
        room = limit - reserve
        if room <= 0:
            return None
        window = text[:room + 1]
        stops = [m.start() for m in _CLAUSE.finditer(window) if m.start() <= room]
        stops = [p for p in stops if len(_tidy_end(text[:p])) >= max(min_keep, 1)]
        if not stops and words:
            spaces = [m.start() for m in re.finditer(r"\s", window) if m.start() <= room]
            stops = [p for p in spaces if len(_tidy_end(text[:p])) >= max(min_keep, 1)]
        if not stops:
            return None
        cut = _balanced(_tidy_end(text[:stops[-1]]) + "…")
        if len(cut) <= limit:
            return cut
    return None


def _shorten_words(text: str, limit: int) -> str:
    """A name or subject shortened at a word boundary with "…" ("" when nothing fits)."""
    if len(text) <= limit:
        return text
    cut = text[:max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space <= 0:
        return ""
    return _balanced(_tidy_end(cut[:space]) + "…")


class Summary:
    """The parts of an owner summary, and the best form of it that fits a size."""

    def __init__(self, who: str, subject: str, sentences: list[str]) -> None:
        self.who = who
        self.subject = subject
        self.sentences = [end_sentence(s) for s in sentences]

    def head(self, subject_chars: int = 100) -> str:
        subject = _shorten_words(self.subject, subject_chars) if self.subject else ""
        if subject:
            return f'{self.who} wrote about "{subject}"'
        if self.subject:
            return f"{self.who} wrote an email"
        return f"{self.who} wrote (no subject)"

    def headline(self, max_chars: int) -> str:
        """Who wrote about what, one sentence, the subject shortened to fit."""
        for chars in (100, 70, 50, 35, 20):
            head = self.head(chars)
            text = (f"{head}." if self.subject or self.sentences
                    else f"{self.who} sent an email with no subject and no readable text.")
            if len(text) <= max_chars:
                return text
        for text in (f"{self.who} wrote.", "An email."):
            if len(text) <= max_chars:
                return text
        return "…"

    def forms(self) -> list[str]:
        """Whole forms, best first: two sentences, then one, then shorter subjects."""
        if not self.sentences:
            what = (f'sent "{self.subject}" with no readable text' if self.subject
                    else "sent an email with no subject and no readable text")
            return [f"{self.who} {what}."]
        out: list[str] = []
        first = self.sentences[0]
        if len(self.sentences) > 1 and len(first) < 160:
            out.append(f"{self.head()}: {first} {self.sentences[1]}")
        for chars in (100, 70, 50):
            out.append(f"{self.head(chars)}: {first}")
        return out

    def fitted(self, max_chars: int) -> str:
        """The most that fits in ``max_chars``: both sentences, one, the first cut at a
        clause boundary (at least :data:`MIN_GIST` characters of it), or the headline."""
        forms = self.forms()
        for form in forms:
            if len(form) <= max_chars:
                return form
        if not self.sentences:
            return cut_at_clause(forms[0], max_chars) or self.headline(max_chars)
        first = self.sentences[0]
        # When the sender's words must be cut, a shorter subject leaves more of them.
        for words in (False, True):  # a clause boundary first, a word boundary only then
            for chars in (50, 70, 100):
                head = f"{self.head(chars)}: "
                keep = min(MIN_GIST, len(first))
                cut = cut_at_clause(head + first, max_chars, min_keep=len(head) + keep,
                                    words=words)
                if cut is not None:
                    return cut
        return self.headline(max_chars)


def build(item: MailItem, text: str) -> Summary:
    """The summary parts of an email: sender, subject, the first two meaningful
    sentences."""
    # the name is clean already; an address shows a hidden character as U+FFFD, as in
    # the warnings (rpa.mail.rules), instead of carrying it into the owner's text
    who = item.from_name or show_hidden(item.from_addr) or "An unknown sender"
    who = _shorten_words(who, 60) or who[:60]
    subject = " ".join(item.subject.split())
    return Summary(who, subject, key_sentences(text or "", 2))


def summarize(item: MailItem, text: str, *, max_chars: int = SUMMARY_CHARS) -> str:
    """One or two sentences for the owner: who wrote, about what, and the gist.

    Built from the sender, the subject and the first one or two meaningful sentences of the
    body (greetings and pleasantries skipped); each sentence keeps its own end (a question
    stays a question). Longer than ``max_chars``: one sentence, a shorter subject, the
    first sentence cut at a clause boundary with "…" (never mid-word, quotes closed, at
    least :data:`MIN_GIST` characters of it), else only who wrote about what.
    Deterministic.
    """
    return build(item, text).fitted(max_chars)


# --------------------------------------------------------------------------- bounces

def bounce_summary(bounce: Bounce, *, max_chars: int = SUMMARY_CHARS) -> str:
    """What bounced, for the owner: the original subject, the recipient(s) and why.

    Whatever the bounce does not say is said to be unknown, never guessed.
    """
    rcpts = bounce.recipients
    if not rcpts:
        to = "to a recipient the bounce does not name"
    elif len(rcpts) == 1:
        to = f"to {rcpts[0]}"
    else:
        to = f"to {rcpts[0]} and {len(rcpts) - 1} more"
    verb = "is delayed (the mail server keeps trying)" if bounce.delayed \
        else "was not delivered"
    words = status_words(bounce.status)
    if words:
        reason = words
    elif bounce.reason:
        reason = bounce.reason
    elif bounce.status:
        reason = f"status {bounce.status}"
    else:
        reason = "the bounce gives no reason"
    for chars in (100, 60, 35, 0):
        subject = _shorten_words(bounce.subject, chars) if bounce.subject and chars else ""
        what = f'your email "{subject}"' if subject else (
            "an email" if bounce.subject else "an email (subject unknown)")
        text = end_sentence(f"Bounce: {what} {to} {verb}: {reason}")
        if len(text) <= max_chars:
            return text
    short = end_sentence(f"Bounce: an email {to} {verb}")
    return short if len(short) <= max_chars else (cut_at_clause(short, max_chars) or "Bounce.")


class BounceSummary:
    """A bounce's summary, fitted like :class:`Summary`."""

    def __init__(self, bounce: Bounce) -> None:
        self.bounce = bounce

    def fitted(self, max_chars: int) -> str:
        return bounce_summary(self.bounce, max_chars=max_chars)


def capped(text: str, max_chars: int = 4000) -> str:
    """The whole text for the details channel, cut (at a paragraph, line or word) only
    beyond ``max_chars``, saying so."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    window = text[:max_chars]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at >= max_chars // 2:
            window = window[:at]
            break
    return window.rstrip() + "\n[… cut here; the whole email is in the mailbox]"
