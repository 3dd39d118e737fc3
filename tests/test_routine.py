"""The routine end to end: real Chromium against the sandbox, alerts to a real receiver."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from rpa.errors import ConfigError, RunLocked
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import account_lock, run
from tests.conftest import Sandbox, all_text_files


def counters(sandbox: Sandbox) -> dict[str, int]:
    return sandbox.state()["counters"]


def test_signin_with_totp_then_saved_state_skips_otp(sandbox: Sandbox, make_config: Any) -> None:
    cfg = make_config()
    first = run(cfg, flows=["login"])
    assert first.status == "ok", first.data["errors"]
    c1 = counters(sandbox)
    assert c1["otp_pages_shown"] == 1
    assert c1["signins"] == 1
    state_file = Path(cfg.paths.state_dir) / "browser" / "test.json"
    assert state_file.stat().st_mode & 0o777 == 0o600

    second = run(cfg, flows=["login"])
    assert second.status == "ok"
    c2 = counters(sandbox)
    assert c2["otp_pages_shown"] == 1, "saved state must keep the OTP page away"
    assert c2["password_posts"] == c1["password_posts"], "the session cookie was reused"

    sandbox.fault(expire_session=True)
    third = run(cfg, flows=["login"])
    assert third.status == "ok"
    c3 = counters(sandbox)
    assert c3["password_posts"] == c1["password_posts"] + 1
    assert c3["otp_pages_shown"] == 1, "the remember-device cookie skips OTP"


def test_healthy_classic_dashboard(sandbox: Sandbox, make_config: Any,
                                   receiver: Receiver) -> None:
    result = run(make_config(signed_in=True))
    assert result.status == "ok", result.data["errors"]
    counts = sandbox.state()["counters"]
    assert (counts["password_posts"], counts["sessions_granted"]) == (0, 1), \
        "a saved sign-in is used as it is"
    obs = result.data["observations"]
    st = sandbox.state()
    assert obs["unshipped"] == st["unshipped"] == 0
    assert obs["buyer_messages"] == st["buyer_messages"] == 2
    assert obs["performance"] == {"status": "good", "label": "Good", "areas": []}
    assert receiver.items == []
    run_json = json.loads((result.folder / "run.json").read_text())
    assert run_json["observations"]["unshipped"] == 0
    assert set(run_json) >= {"run_id", "account", "started_at", "finished_at", "status",
                             "flows", "observations", "errors"}
    shots = [step["screenshot"] for flow in run_json["flows"].values()
             for step in flow["steps"] if step["screenshot"]]
    assert shots and all((result.folder / shot).is_file() for shot in shots)
    assert (result.folder.parent / "latest").resolve() == result.folder.resolve()
    # The report stands alone: every step's thumbnail inside it, full size linked beside.
    report = (result.folder / "report.html").read_text()
    assert report.count('src="data:image/jpeg;base64,') == len(shots)
    assert all(f'href="{shot}"' in report for shot in shots)
    assert str(result.folder) not in report, "links are relative"


def _failing(scenario_metrics: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((m["name"], m["value"], m["target"]) for m in scenario_metrics
                  if m["status"] != "Good")


def test_at_risk_modern_lists_failing_metrics_and_alerts(sandbox: Sandbox, make_config: Any,
                                                         receiver: Receiver) -> None:
    sandbox.reset("at-risk")
    result = run(make_config(signed_in=True))
    assert result.status == "ok", result.data["errors"]
    obs = result.data["observations"]
    scenario = sandbox.server.scenario
    metrics = [m if isinstance(m, dict) else m.model_dump() for m in _metrics(scenario)]
    assert obs["unshipped"] == 5
    assert obs["performance"]["status"] == "fair"
    assert obs["performance"]["label"] == "At Risk"
    found = sorted((a["name"], a["value"], a["target"]) for a in obs["performance"]["areas"])
    assert found == _failing(metrics)
    assert len(found) == 2
    texts = receiver.messages("sms")
    assert len(texts) == 1
    assert len(texts[0]) <= 160 and texts[0].endswith("-MS")
    assert "At Risk" in texts[0]


def _metrics(scenario: Any) -> list[Any]:
    return scenario["metrics"] if isinstance(scenario, dict) else scenario.metrics


def test_classic_poor_opens_view_details(sandbox: Sandbox, make_config: Any,
                                         receiver: Receiver) -> None:
    sandbox.reset("classic-poor")
    result = run(make_config(signed_in=True))
    assert result.status == "ok", result.data["errors"]
    perf = result.data["observations"]["performance"]
    assert perf["status"] == "poor"
    assert [a["name"] for a in perf["areas"]] == ["Order Defect Rate"]
    assert receiver.wait_for(1)
    assert "Order Defect Rate" in receiver.messages("sms")[0]


def test_captcha_stops_with_exit_3_screenshot_and_alert(sandbox: Sandbox, make_config: Any,
                                                        receiver: Receiver) -> None:
    sandbox.fault(captcha=True)
    result = run(make_config())
    assert result.status == "needs_person"
    assert result.exit_code == 3
    assert result.data["flows"]["dashboard"]["status"] == "skipped"
    err = result.data["errors"][0]
    assert err["reason"] == "captcha"
    shots = [s["screenshot"] for s in result.data["flows"]["login"]["steps"] if s["screenshot"]]
    assert shots and all((result.folder / s).is_file() for s in shots)
    texts = receiver.messages("sms")
    assert texts and "needs a person" in texts[0] and texts[0].endswith("-MS")


def test_cvf_verification_needs_a_person(sandbox: Sandbox, make_config: Any) -> None:
    sandbox.fault(cvf=True)
    result = run(make_config(), flows=["login"])
    assert result.exit_code == 3
    assert result.data["errors"][0]["reason"] == "verification"


def test_otp_rejected_once_then_next_code(sandbox: Sandbox, make_config: Any) -> None:
    sandbox.fault(otp_reject_once=True)
    # Once the sandbox has refused a code, the run's clock is half a minute ahead: the next
    # code is there at once (the sandbox, like Amazon, takes the neighbouring window's
    # code) instead of after up to 30 s of waiting on the real clock. Jumping only after the
    # refusal keeps the refused code and the next one in different windows whatever the
    # real time within a window.
    readings: list[datetime] = []

    def clock() -> datetime:
        ahead = counters(sandbox)["otp_failures"] > 0
        now = datetime.now(timezone.utc) + timedelta(seconds=30 if ahead else 0)
        readings.append(now)
        return now

    result = run(make_config(), flows=["login"], clock=clock)
    assert result.status == "ok", result.data["errors"]
    c = counters(sandbox)
    assert c["otp_failures"] == 1
    assert c["signins"] == 1
    assert len(readings) >= 2, "the second code was taken from the run's clock"


def test_http_500_is_retried(sandbox: Sandbox, make_config: Any) -> None:
    def fail_home_after_login(event: str, rec: Any) -> None:
        if event == "end" and rec.flow == "login" and rec.name == "signed in":
            sandbox.fault(http500="/home")

    result = run(make_config(signed_in=True), flows=["dashboard"],
                 on_step=fail_home_after_login)
    assert result.status == "ok", result.data["errors"]
    assert counters(sandbox)["http500_served"] == 1
    assert result.data["flows"]["dashboard"]["attempts"] == 2
    assert result.data["observations"]["buyer_messages"] == 2


def test_session_expired_mid_run_signs_in_again(sandbox: Sandbox, make_config: Any) -> None:
    def expire_after_login(event: str, rec: Any) -> None:
        if event == "end" and rec.flow == "login" and rec.name == "signed in":
            sandbox.fault(expire_session=True)

    result = run(make_config(), on_step=expire_after_login)  # a full sign-in first
    assert result.status == "ok", result.data["errors"]
    assert counters(sandbox)["signins"] == 2
    assert result.data["observations"]["unshipped"] == 0


def test_slow_pages_still_read_right(sandbox: Sandbox, make_config: Any) -> None:
    sandbox.reset("classic-poor")
    # Every request answered late (longer than a page takes to render and a state to be
    # probed): a read that did not wait for its page would miss the figure.
    sandbox.fault(slow_ms=600)
    try:
        result = run(make_config(signed_in=True))
    finally:
        sandbox.fault(slow_ms=0)
    assert result.status == "ok", result.data["errors"]
    assert result.data["observations"]["unshipped"] == 3


def test_no_secret_in_recordings_or_log(sandbox: Sandbox, make_config: Any,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(browser__trace=True)  # the trace is scanned too
    result = run(cfg)
    assert result.status == "ok"
    assert list(result.folder.glob("trace-*.zip")), "the run leaves a trace"
    login = sandbox.login()
    secrets = [login["password"].encode(), login["totp_secret"].encode()]
    checked = 0
    for path, content in all_text_files(result.folder):
        checked += 1
        for value in secrets:
            assert value not in content, f"secret found in {path}"
    assert checked > 5
    assert any(p.name == "run.log" for p in result.folder.iterdir())
    out, err = capfd.readouterr()
    for value in secrets:
        assert value.decode() not in out + err


def test_bad_selectors_fail_before_browser(sandbox: Sandbox, make_config: Any,
                                           tmp_path: Path) -> None:
    bad = tmp_path / "selectors.yaml"
    bad.write_text("home:\n  unshipped_count:\n    - xpath: //a\n")
    cfg = make_config(paths={"state_dir": str(tmp_path / "s"), "selectors_file": str(bad),
                             "recordings_dir": str(tmp_path / "r")})
    with pytest.raises(ConfigError) as err:
        run(cfg)
    assert "home.unshipped_count[0]" in str(err.value)
    assert counters(sandbox)["requests"] == 0
    assert not (tmp_path / "r").exists()


def test_missing_secret_fails_before_browser(sandbox: Sandbox, make_config: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config()
    monkeypatch.delenv("T_SC_TOTP")
    with pytest.raises(ConfigError) as err:
        run(cfg)
    assert "T_SC_TOTP" in str(err.value)
    assert counters(sandbox)["requests"] == 0


def test_second_run_for_same_account_is_refused(make_config: Any) -> None:
    cfg = make_config()
    with account_lock(Path(cfg.paths.state_dir), "test"):
        with pytest.raises(RunLocked, match="in progress"):
            run(cfg)
