"""Which folders are Inbox, Spam and Trash, decided from the server's own listing.

Hosts name and place these folders differently: SPECIAL-USE flags where the server offers
them (Gmail, Dovecot, Exchange Online), a namespace prefix with "." between levels on
cPanel/Courier hosts (``INBOX.Junk``), children of INBOX (``INBOX/Spam``), and names in
the mailbox's language (``Courrier indésirable``, ``Papierkorb``). The order is: the names
the configuration gives, then the SPECIAL-USE flag, then the well-known names below. Names
are compared whole after Unicode normalisation and case-folding, never as substrings
("Spam reports" is not Spam), and a name that fits two folders decides nothing. A folder
that cannot be found is reported with every folder the server has, so a person can name
the right one; nothing is guessed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rpa.errors import ApplicationError

# Well-known names, most usual first. Outlook/Exchange, Gmail, Apple, GMX/web.de and the
# localized Outlook names in German, French, Italian and Spanish.
SPAM_NAMES: tuple[str, ...] = (
    "Spam", "Junk", "Junk Email", "Junk E-mail", "Bulk Mail", "[Gmail]/Spam",
    "Junk-E-Mail", "Spam-Verdacht", "Courrier indésirable", "Posta indesiderata",
    "Correo no deseado",
)
TRASH_NAMES: tuple[str, ...] = (
    "Trash", "Deleted Items", "Deleted Messages", "Bin", "[Gmail]/Trash", "[Gmail]/Bin",
    "Papierkorb", "Gelöschte Elemente", "Corbeille", "Éléments supprimés", "Cestino",
    "Elementi eliminati", "Papelera", "Elementos eliminados",
)
ROLES = {"spam": ("\\junk", SPAM_NAMES), "trash": ("\\trash", TRASH_NAMES)}
CONFIG_KEYS = {"spam": "mailbox.spam_folders", "trash": "mailbox.trash_folders"}
NOT_SELECTABLE = frozenset({"\\noselect", "\\nonexistent"})
MAX_NAMES_SHOWN = 40  # folders named in an error; a huge tree is cut with a count


class FoldersNotFound(ApplicationError):
    """Spam or Trash is not on the server under any name the bot knows.

    A technical failure (the run fails, exit 1), but trying again finds the same folders,
    so the orchestrator does not retry it.
    """

    retryable = False


@dataclass(frozen=True)
class Listed:
    """One folder from LIST: its full name (decoded), delimiter and flags (lower case)."""

    name: str
    delimiter: str | None
    flags: frozenset[str] = frozenset()

    @property
    def selectable(self) -> bool:
        return not self.flags & NOT_SELECTABLE


@dataclass
class Folders:
    """Inbox, Spam and Trash as found, how each was found, and every folder listed."""

    inbox: str
    spam: str | None
    trash: str | None
    how: dict[str, str]  # role -> "special-use \\Junk" | "name 'Junk Email'" | why not
    names: list[str] = field(default_factory=list)
    host: str = ""

    def require(self) -> tuple[str, str]:
        """The Spam and Trash folders; FoldersNotFound naming what is missing and the
        server's folders when either is not known."""
        missing = [role for role in ("spam", "trash") if getattr(self, role) is None]
        if not missing:
            roles = {"Inbox": self.inbox, "Spam": self.spam, "Trash": self.trash}
            same = [role for role, name in roles.items()
                    if [fold(n or "") for n in roles.values()].count(fold(name or "")) > 1]
            if same:  # reading Trash as Spam, or moving mail into the folder it is in
                raise FoldersNotFound(
                    f"{' and '.join(same)} would be the same folder ('{roles[same[-1]]}'); "
                    "name different ones in mailbox.spam_folders / mailbox.trash_folders")
            assert self.spam is not None and self.trash is not None  # none missing
            return self.spam, self.trash
        shown = sorted(self.names, key=fold)
        listed = ", ".join(shown[:MAX_NAMES_SHOWN])
        if len(shown) > MAX_NAMES_SHOWN:
            listed += f" … ({len(shown) - MAX_NAMES_SHOWN} more)"
        where = f" on {self.host}" if self.host else ""
        parts = [f"{role.capitalize()} folder not found{where} ({self.how[role]})"
                 for role in missing]
        keys = " / ".join(CONFIG_KEYS[role] for role in missing)
        raise FoldersNotFound(
            f"{'; '.join(parts)}; the server's folders are: {listed or '(none)'}. "
            f"Name the right folder in {keys}; nothing was read or moved")


def fold(name: str) -> str:
    """A name as compared: NFC-normalised and case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


def relative_path(folder: Listed, prefixes: Sequence[str]) -> str:
    """The folder's path below the personal namespace prefix and below INBOX, levels
    joined by "/" (``INBOX.Junk`` with prefix ``INBOX.`` -> ``Junk``)."""
    name = folder.name
    for prefix in sorted(prefixes, key=len, reverse=True):
        if prefix and fold(name).startswith(fold(prefix)) and len(name) > len(prefix):
            name = name[len(prefix):]
            break
    delim = folder.delimiter
    if delim:
        inbox = f"INBOX{delim}"
        if name.upper().startswith(inbox) and len(name) > len(inbox):
            name = name[len(inbox):]
        if delim != "/":
            name = name.replace(delim, "/")
    return name


class _Finder:
    """Looks up candidates in one listing; records how each role was decided."""

    def __init__(self, listing: Iterable[Listed], prefixes: Sequence[str]) -> None:
        self.folders = [f for f in listing if f.selectable]
        self.full = {id(f): fold(f.name) for f in self.folders}
        self.rel = {id(f): fold(relative_path(f, prefixes)) for f in self.folders}

    def by_name(self, name: str) -> list[Listed]:
        """Folders whose full name is ``name``, else those whose path below the prefix
        and INBOX is."""
        want = fold(name)
        exact = [f for f in self.folders if self.full[id(f)] == want]
        return exact or [f for f in self.folders if self.rel[id(f)] == want]

    def by_flag(self, flag: str) -> list[Listed]:
        return [f for f in self.folders if flag in f.flags]

    def find(self, role: str, configured: Sequence[str]) -> tuple[str | None, str]:
        """The folder for ``role`` and how it was found, or None and why not."""
        flag, known = ROLES[role]
        steps: list[tuple[str, Sequence[str]]] = [("configured name", configured),
                                                  ("special-use", [flag]),
                                                  ("name", known)]
        for kind, candidates in steps:
            for cand in candidates:
                hits = self.by_flag(cand) if kind == "special-use" else self.by_name(cand)
                if len(hits) > 1:
                    several = ", ".join(f"'{f.name}'" for f in hits)
                    return None, f"{kind} {_shown(cand)} fits several folders: {several}"
                if hits:
                    return hits[0].name, f"{kind} {_shown(cand)}"
        tried = f"configured {', '.join(configured)} not there; " if configured else ""
        return None, (f"{tried}no SPECIAL-USE {_shown(flag)} flag and no folder named "
                      f"{', '.join(known[:4])} or another well-known name")


def _shown(candidate: str) -> str:
    """A flag as IMAP writes it (``\\Junk``), a name in quotes."""
    if candidate.startswith("\\"):
        return "\\" + candidate[1:].capitalize()
    return f"'{candidate}'"


def find_folders(listing: Iterable[Listed], *, prefixes: Sequence[str] = (),
                 spam_names: Sequence[str] = (), trash_names: Sequence[str] = (),
                 host: str = "") -> Folders:
    """Inbox, Spam and Trash from a LIST result and the personal namespace prefixes.

    ``spam_names``/``trash_names`` (the configuration's) are tried first, each as a full
    folder name or as the path below the namespace prefix and INBOX.
    """
    listing = list(listing)
    finder = _Finder(listing, prefixes)
    inbox = next((f.name for f in listing if fold(f.name) == "inbox"), "INBOX")
    spam, how_spam = finder.find("spam", spam_names)
    trash, how_trash = finder.find("trash", trash_names)
    return Folders(inbox=inbox, spam=spam, trash=trash,
                   how={"spam": how_spam, "trash": how_trash},
                   names=[f.name for f in listing], host=host)
