"""The account choice a saved sign-in was left in, as the run that saved it read it back.

When a run chooses the account and marketplace on "Select an account" and reads the choice
back, it notes the pair here (``state_dir/account-choice/<account>.json``, 0600). Seller
Central keeps that choice with the session (a cookie, evidence U8), so a later run that
signs in with the same saved state starts in it. That run may go on when its pages confirm
nothing (a header the bot cannot read) and contradict nothing; a header that shows another
account still stops or switches it. A run that types the password starts a new session: it
drops the note unless it reads a choice back itself.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

FOLDER = "account-choice"


def choice_file(state_dir: Path, account_name: str) -> Path:
    return Path(state_dir) / FOLDER / f"{account_name}.json"


def load(path: Path) -> tuple[str, str] | None:
    """The (account, marketplace) noted, or None when there is no readable note."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    account, marketplace = data.get("account"), data.get("marketplace")
    if isinstance(account, str) and isinstance(marketplace, str) and account and marketplace:
        return account, marketplace
    return None


def save(path: Path, account: str, marketplace: str, read_back_at: str) -> None:
    """Note the pair read back on the picker (written whole, readable by this user only)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"account": account, "marketplace": marketplace,
                       "read_back_at": read_back_at}, out)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def drop(path: Path) -> None:
    path.unlink(missing_ok=True)
