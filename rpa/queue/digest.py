"""What every worker must share of the configuration, as fingerprints a job carries.

Workers on several machines each read their own rpa.yaml. A job carries a short
fingerprint of each section of the file that queued it (accounts, templates, the holding
reply, mail rules, the owner's channels...); a worker whose file differs in one of them
does not run the job with its own (an older template, another owner's phone) but says
which sections differ, and the job is tried again, on whichever worker takes it, then
given up with the owner told. What is each machine's own is left out: its folders,
browser, console, concurrency, and how it reaches the queue and the ledger.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rpa.config import Config

MACHINE_KEYS = frozenset({"paths", "browser", "console", "concurrency", "queue", "ledger",
                          "schedule", "retention", "source"})


def section_digests(cfg: Config) -> dict[str, str]:
    """Each shared section's fingerprint (12 hex characters of its SHA-256)."""
    data: dict[str, Any] = cfg.model_dump(mode="json", exclude=set(MACHINE_KEYS))
    return {key: hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"))
                                .encode()).hexdigest()[:12]
            for key, value in sorted(data.items())}


def differing(cfg: Config, queued: dict[str, str] | None) -> list[str]:
    """The sections in which ``cfg`` is not the configuration that queued a job (none for
    a job queued without fingerprints, by an earlier version)."""
    if not queued:
        return []
    mine = section_digests(cfg)
    return sorted(k for k in set(mine) | set(queued) if mine.get(k) != queued.get(k))
