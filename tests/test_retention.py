"""Retention: which run folders are deleted (never the newest, never the newest failed,
never anything that is not a run folder), and the static recordings/index.html that lists
what is left with every run.json value escaped."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from rpa.scheduling.retention import prune, run_folders, write_index

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)


def _run(root: Path, days_ago: float, status: str = "ok", account: str = "shop",
         suffix: str = "a1b2c3", **data: Any) -> Path:
    started = NOW - timedelta(days=days_ago)
    folder = root / f"{started:%Y%m%dT%H%M%SZ}-{account}-{suffix}"
    folder.mkdir(parents=True)
    body = {"run_id": folder.name, "account": account, "status": status,
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": (started + timedelta(seconds=75)).isoformat(timespec="seconds"),
            "observations": {"unshipped": 3, "performance": {"label": "Good"}}, **data}
    (folder / "run.json").write_text(json.dumps(body))
    (folder / "report.html").write_text("<p>report</p>")
    return folder


@pytest.fixture()
def recordings(tmp_path: Path) -> Path:
    root = tmp_path / "recordings"
    root.mkdir()
    (root / "README.md").write_text("kept")
    return root


def _names(paths: list[Path]) -> set[str]:
    return {p.name for p in paths}


def test_old_runs_go_but_the_newest_and_the_newest_failed_stay(recordings: Path) -> None:
    ancient_failed = _run(recordings, 90, "failed", suffix="000001")
    old_failed = _run(recordings, 60, "needs_person", suffix="000002")  # newest not-ok
    old_ok = [_run(recordings, d, suffix=f"0000{d:02d}") for d in (50, 45, 40)]
    recent = [_run(recordings, d, suffix=f"1000{d:02d}") for d in (10, 2)]
    # Not run folders: never touched, however old they look.
    stray = recordings / "20200101T000000Z-shop-ffffff"  # a run being written: no run.json
    stray.mkdir()
    odd = recordings / "20200101T000000Z-shop-notes"
    odd.mkdir()
    (odd / "run.json").write_text("{}")
    (recordings / "latest").symlink_to(recent[-1].name)
    outside = recordings.parent / "elsewhere-20200101T000000Z-shop-abcdef"
    outside.mkdir()
    (outside / "run.json").write_text("{}")
    (recordings / "20200102T000000Z-shop-abcdef").symlink_to(outside)

    deleted = prune(recordings, keep_days=30, keep_runs=None, now=NOW)
    assert _names(deleted) == _names([ancient_failed, *old_ok])
    left = {p.name for p in recordings.iterdir()}
    assert old_failed.name in left and all(r.name in left for r in recent)
    assert {"README.md", "latest", stray.name, odd.name,
            "20200102T000000Z-shop-abcdef"} <= left
    assert (outside / "run.json").exists()


def test_both_limits_must_agree_and_either_alone_works(recordings: Path) -> None:
    runs = [_run(recordings, d, suffix=f"00{d:04d}") for d in (40, 35, 31, 20, 5, 1)]
    # Older than 30 days AND beyond the last 4: only the two oldest.
    assert _names(prune(recordings, keep_days=30, keep_runs=4, now=NOW)) == _names(runs[:2])
    # keep_runs alone: the last 2.
    assert _names(prune(recordings, keep_days=None, keep_runs=2, now=NOW)) == _names(
        runs[2:4])
    # Neither: nothing goes.
    assert prune(recordings, keep_days=None, keep_runs=None, now=NOW) == []
    assert [r.path.name for r in run_folders(recordings)] == [r.name for r in runs[4:]]


def test_the_newest_run_stays_even_when_everything_is_old(recordings: Path) -> None:
    runs = [_run(recordings, d, suffix=f"00{d:04d}") for d in (400, 300, 200)]
    assert _names(prune(recordings, keep_days=1, keep_runs=None, now=NOW)) == _names(runs[:2])
    assert [r.path.name for r in run_folders(recordings)] == [runs[2].name]


def test_the_index_lists_what_is_left_newest_first_and_escapes_hostile_text(
        recordings: Path) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    kept_old = _run(recordings, 3, "failed", suffix="aaaaaa", account="shop",
                    observations={"unshipped": None, "performance": {"label": hostile}},
                    threads=[{"decision": "template:where_is_my_order"},
                             {"decision": "holding"}, {"decision": "holding"}],
                    emails=[{"action": "delete"}, {"action": hostile}],
                    escalations={"opened": ["B001", hostile]})
    newest = _run(recordings, 1, suffix="bbbbbb", account="other",
                  run_id='"><a href="javascript:alert(3)">x</a>')
    gone = _run(recordings, 100, suffix="cccccc")
    broken = recordings / f"{NOW - timedelta(days=2):%Y%m%dT%H%M%SZ}-shop-dddddd"
    broken.mkdir()
    (broken / "run.json").write_text("{not json")
    prune(recordings, keep_days=30, keep_runs=None, now=NOW)

    index = write_index(recordings, now=NOW)
    assert index == recordings / "index.html"
    assert oct(os.stat(index).st_mode & 0o777) == "0o600"
    page = index.read_text()
    for raw in ("<script>", "onerror=\"", "<img", "javascript:alert(3)\">"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Newest first; each run links relatively to its own report; the deleted one is gone.
    order = [page.index(newest.name), page.index(broken.name), page.index(kept_old.name)]
    assert order == sorted(order)
    assert f'href="{newest.name}/report.html"' in page
    assert gone.name not in page
    assert "run.json unreadable" in page
    assert 'href="/' not in page and "http" not in page.split("<body>", 1)[1]
    # The counts: buyer messages by decision, emails by action, escalations opened.
    assert "holding 2, template 1" in page and "delete 1" in page and "B001" in page
    assert "1 min 15 s" in page and "not read" in page
