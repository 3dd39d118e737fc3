"""Every key of selectors.yaml says where it comes from: ``# evidence: …`` (a source of the
Seller Central evidence study) or ``# unconfirmed`` on the key's line; ``rpa selectors
check`` lists the unconfirmed ones (read from the file's text: YAML drops comments)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rpa.browser.confirmed import EVIDENCE, UNCONFIRMED, kind_of, sources
from rpa.browser.selectors import Selectors, default_selectors_file
from tests.test_cli_errors import write_config


def test_every_key_of_selectors_yaml_says_its_evidence_or_that_it_is_unconfirmed() -> None:
    notes = sources(default_selectors_file().read_text(encoding="utf-8"))
    assert set(notes) == set(Selectors.load().keys), "a key the comment reader missed"
    bare = sorted(key for key, (kind, _) in notes.items() if kind is None)
    assert bare == [], f"keys with neither '# evidence: …' nor '# unconfirmed': {bare}"


@pytest.mark.parametrize(("note", "kind"), [
    ("evidence: S4 signin.html; U1", EVIDENCE),
    ("any generation's switcher; evidence: U22, U23", EVIDENCE),
    ("unconfirmed (evidence §3: imitation UIs only)", UNCONFIRMED),
    ("evidence: U1 (fixup skip link); wording unconfirmed", EVIDENCE),
    ("unconfirmed", UNCONFIRMED),
    ("inside one metric_row", None),
    ("", None),
])
def test_a_comment_counts_by_the_marker_it_names_first(note: str, kind: str | None) -> None:
    assert kind_of(note) == kind


def test_the_comment_reader_finds_keys_by_namespace_and_ignores_candidate_comments() -> None:
    text = ("# a block comment: evidence: S1\nhome:\n  figure:          # unconfirmed\n"
            "    - css: '#a'   # evidence: U1\n  other:\n    - css: '#b'\n"
            "thread:\n  figure:  # evidence: U2\n    - css: '#c'\n")
    assert sources(text) == {"home.figure": (UNCONFIRMED, "unconfirmed"),
                             "home.other": (None, ""),
                             "thread.figure": (EVIDENCE, "evidence: U2")}


def test_selectors_check_without_a_browser_lists_the_unconfirmed_keys_and_the_local_ones(
        tmp_path: Path) -> None:
    from rpa.cli import app

    local = tmp_path / "selectors.local.yaml"
    local.write_text(yaml.safe_dump({"home.unshipped_count": [{"css": "#unshipped-qty"}]}))
    config = write_config(tmp_path, paths={"state_dir": str(tmp_path / "state"),
                                           "recordings_dir": str(tmp_path / "recordings"),
                                           "selectors_overlay": str(local)})
    result = CliRunner().invoke(app, ["selectors", "check", "--config", str(config)],
                                env={"COLUMNS": "200", "NO_COLOR": "1"})
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    unconfirmed = sorted(k for k, (kind, _) in sources(
        default_selectors_file().read_text(encoding="utf-8")).items() if kind == UNCONFIRMED)
    assert f"{len(unconfirmed)} unconfirmed (no public source shows them)" in out
    for key in unconfirmed:
        assert f" {key} # " in out, key
    assert "signin.email" not in out  # cites its evidence
    assert f"{local}: 1 key(s) taught here, tried first: home.unshipped_count" in out
    assert not (tmp_path / "recordings").exists()  # no run, no browser
