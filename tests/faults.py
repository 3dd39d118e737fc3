"""The fault × flow matrix: which fault each test injects, in which flow, and what it shows.

``scripts/reliability_matrix.py`` runs exactly these tests and writes
``docs/reliability.md`` from their results; ``tests/test_reliability_doc.py`` keeps the
table, the tests and the document in step. A new fault test gets a row here.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOWS = ("login", "dashboard", "performance", "buyer_messages", "mailbox", "answers", "run")


@dataclass(frozen=True)
class Fault:
    fault: str
    flow: str
    outcome: str
    test: str  # node id: tests/<file>.py::<test function>


FAULTS: list[Fault] = [
    # Seller Central sign-in
    Fault("CAPTCHA (Robot Check)", "login", "exit 3, screenshot, one text",
          "tests/test_routine.py::test_captcha_stops_with_exit_3_screenshot_and_alert"),
    Fault("image CAPTCHA on the password page", "login", "exit 3 before the password",
          "tests/test_signin_variants.py::"
          "test_image_captcha_on_the_password_page_stops_before_the_password"),
    Fault("verification code by email/SMS", "login", "exit 3 `verification`",
          "tests/test_routine.py::test_cvf_verification_needs_a_person"),
    Fault("verification page labelled like the OTP page", "login",
          "exit 3, no code typed",
          "tests/test_signin_variants.py::"
          "test_verification_with_an_otp_label_is_not_taken_for_the_otp_page"),
    Fault("choose where to send the code", "login", "exit 3 `otp_device`",
          "tests/test_signin_variants.py::test_device_choice_for_the_code_needs_a_person"),
    Fault("one-time code rejected once", "login", "next code, signed in",
          "tests/test_routine.py::test_otp_rejected_once_then_next_code"),
    Fault("prompt without a known way on", "login", "exit 3 `unknown_page`, screenshot",
          "tests/test_signin_variants.py::test_prompt_without_a_known_way_on_stops_as_unknown"),
    Fault("page hangs after the password", "login",
          "exit 3 `signin_failed`, password once, no retry",
          "tests/test_signin_variants.py::test_hang_after_the_password_is_not_retried"),
    Fault("sign-in page hangs before the password", "login",
          "retried, signed in, password typed once",
          "tests/test_signin_variants.py::"
          "test_hang_before_the_password_is_retried_and_signs_in_once"),
    Fault("account name shared by a prefix; saved state in another account", "login",
          "the exact account, read back; switched or exit 3",
          "tests/test_account_picker.py::"
          "test_prefix_sharing_accounts_and_a_saved_state_in_another_account"),
    Fault("configured account not offered", "login", "exit 3, nothing read or answered",
          "tests/test_account_picker.py::test_only_the_outlet_offered_stops_before_any_work"),
    Fault("picker labels marked \"(current)\", an account pre-expanded, a row pending "
          "registration", "login", "the exact row, read back; pending: exit 3",
          "tests/test_account_picker.py::"
          "test_current_picker_with_markers_a_pre_expanded_account_and_pending_rows"),
    Fault("older #picker-container picker", "login", "chosen exactly, header confirms",
          "tests/test_account_picker.py::test_older_picker"),
    Fault("header names only the marketplace (host)", "login",
          "picker or saved choice confirms; another marketplace switched",
          "tests/test_account_picker.py::test_oldest_header_names_only_the_marketplace"),
    Fault("New Seller Central redirect (flag dropped after a switch)", "login",
          "classic home through the flag, figures read",
          "tests/test_new_seller_central.py::"
          "test_classic_home_through_the_flag_also_after_a_redirect"),
    Fault("New Seller Central dashboard despite the flag", "dashboard",
          "figures not read, with why; Unshipped from Manage Orders",
          "tests/test_new_seller_central.py::test_ngs_dashboard_despite_the_flag_is_never_read"),
    Fault("session expired mid-run", "dashboard", "signs in again, figures read",
          "tests/test_routine.py::test_session_expired_mid_run_signs_in_again"),
    # Seller Central pages
    Fault("HTTP 500 once", "dashboard", "retried, ok",
          "tests/test_routine.py::test_http_500_is_retried"),
    Fault("slow pages (0.6 s each)", "dashboard", "ok, figures right",
          "tests/test_routine.py::test_slow_pages_still_read_right"),
    Fault("a page that never loads", "dashboard",
          "exit 1 in attempts × timeout, screenshots, one text a day",
          "tests/test_failures.py::"
          "test_a_page_that_never_loads_ends_the_run_with_evidence_and_one_text"),
    Fault("home page never loads (scenario home-never-loads)", "dashboard",
          "retried, exit 1, one text with the run id",
          "tests/test_failures.py::test_bundled_scenario_whose_home_page_never_loads"),
    Fault("Seller Performance widget missing", "dashboard",
          "other figures kept, not read with why, one text",
          "tests/test_home_variants.py::test_missing_performance_widget_keeps_the_other_figures"),
    Fault("unknown Seller Performance wording", "performance",
          "unknown, one text, details never opened",
          "tests/test_home_variants.py::"
          "test_unknown_performance_wording_is_reported_never_summarised"),
    Fault("numbers in another locale", "dashboard", "1.234 read as 1234, never 234",
          "tests/test_home_variants.py::"
          "test_german_modern_reads_1234_on_manage_orders_and_fair_areas"),
    # Buyer messages
    Fault("reply fails once (HTTP 500)", "buyer_messages", "retried, sent once",
          "tests/test_buyer_messages.py::test_send_fails_once_then_retried"),
    Fault("session expires between reading and sending", "buyer_messages",
          "signs in again, sent once",
          "tests/test_buyer_messages.py::test_session_expires_between_open_and_send"),
    Fault("SIGKILL right after a send", "buyer_messages",
          "rerun sends nothing twice, escalation arrives",
          "tests/test_buyer_messages.py::test_killed_right_after_a_send_never_sends_twice"),
    # Mailbox
    Fault("mail server restarted mid-run", "mailbox", "error reported, nothing lost or doubled",
          "tests/test_mailbox.py::test_dovecot_restart_mid_run_loses_and_doubles_nothing"),
    Fault("no Spam folder", "mailbox", "exit 1 with the folder list, nothing moved, one text",
          "tests/test_mail_folders.py::"
          "test_no_spam_folder_fails_once_with_the_folder_list_and_moves_nothing"),
    Fault("spoofed Amazon mail", "mailbox", "phishing warning, kept",
          "tests/test_mailbox_trust.py::test_only_authenticated_amazon_mail_is_trusted"),
    Fault("backlog of 300 unknown mails", "mailbox", "at most N texts + one digest",
          "tests/test_mailbox_backlog.py::"
          "test_a_backlog_sends_the_configured_texts_and_one_digest"),
    Fault("owner's channels down for a run", "mailbox", "the next run sends it all, once",
          "tests/test_mailbox_backlog.py::"
          "test_a_digest_that_does_not_get_through_is_sent_by_the_next_run"),
    # The owner's answers
    Fault("a template that breaks Amazon's messaging rules", "buyer_messages",
          "never sent; the holding reply goes, R… opened",
          "tests/test_buyer_messages.py::test_every_decision_path"),
    Fault("reply endpoint failing for a run; crash after the send", "answers",
          "answer kept, sent once next run; the page settles the crash",
          "tests/test_answers.py::"
          "test_a_blocked_template_sends_the_holding_reply_and_the_answer_goes_once"),
    Fault("an answer with a phone number", "answers", "not sent, the owner told why, once",
          "tests/test_answers.py::test_a_buyer_answer_by_owner_email_reaches_the_thread_once"),
    Fault("owner's answer not authenticated", "mailbox", "nothing sent, S… escalation, kept",
          "tests/test_email_answers.py::"
          "test_unauthenticated_owner_answer_sends_nothing_and_is_escalated"),
    Fault("SMTP server down, then up", "mailbox",
          "exit 1, answer kept, one text; the reply sent once when up",
          "tests/test_email_answers.py::"
          "test_reply_to_the_bots_email_is_matched_and_smtp_down_then_up_delivers_once"),
    # Hostile content
    Fault("buyer names with direction overrides, braces, Arabic and emoji", "buyer_messages",
          "clean replies, clean texts, one UCS-2 segment",
          "tests/test_hostile.py::"
          "test_hostile_buyers_get_clean_replies_and_the_owner_clean_texts"),
    Fault("a 100 KB buyer message", "buyer_messages", "screenshots at most 6000 px high",
          "tests/test_artifacts_security.py::"
          "test_a_100_kb_message_gives_screenshots_of_bounded_height"),
    Fault("untrusted mail-server certificate", "mailbox", "exit 2, not retried",
          "tests/test_validation.py::"
          "test_certificate_error_stops_the_mailbox_with_exit_2_not_retried"),
    Fault("wrong mailbox password", "mailbox", "exit 3, not retried, one text",
          "tests/test_validation.py::test_wrong_imap_password_texts_the_owner"),
    Fault("wrong mailbox password (non-ASCII)", "mailbox", "the password in no file",
          "tests/test_artifacts_security.py::"
          "test_a_refused_imap_login_with_a_non_ascii_password_leaves_it_nowhere"),
    Fault("password field cannot be filled", "login", "the password in no log or report",
          "tests/test_artifacts_security.py::"
          "test_a_failing_password_fill_leaves_the_password_nowhere"),
    # The run as a whole
    Fault("corrupt browser-state file", "run",
          "set aside, fresh sign-in, warning; no cookie in any artifact",
          "tests/test_artifacts_security.py::"
          "test_a_corrupt_state_is_replaced_and_no_session_or_secret_is_in_any_artifact"),
    Fault("browser profile left locked by a browser that died", "run",
          "lock cleared, profile and sign-in kept, warning",
          "tests/test_browser_profile.py::"
          "test_a_lock_left_by_a_browser_that_died_is_cleared_and_the_profile_kept"),
    Fault("browser profile Chromium refuses (locked by another machine)", "run",
          "kept aside, fresh sign-in on a new profile, warning",
          "tests/test_browser_profile.py::"
          "test_a_profile_chromium_refuses_is_kept_aside_and_the_run_signs_in_afresh"),
    Fault("visible browser, no display and no Xvfb", "run", "exit 2 naming the package",
          "tests/test_headed_display.py::"
          "test_rpa_run_without_xvfb_exits_2_naming_the_package"),
    Fault("browser does not start on the run's own Xvfb", "run", "Xvfb stopped",
          "tests/test_headed_display.py::test_xvfb_is_stopped_when_the_browser_does_not_start"),
    Fault("browser context cannot be created", "run", "Playwright stopped, next launch works",
          "tests/test_artifacts_security.py::"
          "test_a_failed_context_stops_playwright_so_a_retry_can_launch"),
    Fault("corrupt, truncated, empty or deleted ledger", "run",
          "exit 6 before any request, one text, `rpa ledger restore`",
          "tests/test_ledger_reliability.py::"
          "test_a_broken_ledger_stops_the_run_before_anything_and_restore_brings_it_back"),
    Fault("SIGKILL inside creating an escalation; one channel down; reply failing",
          "buyer_messages", "one code, texted once; only the failed channel re-sent; "
          "text says NOT sent",
          "tests/test_ledger_reliability.py::"
          "test_killed_inside_escalate_then_one_channel_down_then_reply_failing"),
    Fault("crash between sending a text and recording it", "run",
          "sent again once: never lost, at most one duplicate",
          "tests/test_ledger_reliability.py::"
          "test_crash_between_send_and_record_is_sent_again_once"),
    Fault("every owner channel down", "run", "exit 5, the report lists the texts",
          "tests/test_ledger_reliability.py::"
          "test_every_channel_down_exits_5_and_the_report_lists_the_texts"),
    Fault("ledger lost", "run", "codes never reused",
          "tests/test_ledger_reliability.py::"
          "test_codes_are_never_reused_after_the_ledger_is_lost"),
    Fault("selectors file missing a key the code uses", "run",
          "exit 2 before any request, every missing key named",
          "tests/test_validation.py::test_missing_selector_key_exits_2_before_any_request"),
    Fault("state folder not writable", "run", "exit 2 naming it",
          "tests/test_validation.py::test_unwritable_state_folder_is_exit_2_naming_it"),
    Fault("owner text not delivered", "run", "retried by the next run",
          "tests/test_failures.py::test_an_undelivered_text_is_tried_again_by_the_next_run"),
    Fault("another run for the same account", "run", "refused (exit 4)",
          "tests/test_routine.py::test_second_run_for_same_account_is_refused"),
    Fault("bad selectors file", "run", "exit 2 before the browser",
          "tests/test_routine.py::test_bad_selectors_fail_before_browser"),
    Fault("missing secret", "run", "exit 2 before the browser",
          "tests/test_routine.py::test_missing_secret_fails_before_browser"),
]


def render(results: dict[str, str]) -> str:
    """docs/reliability.md from the test results (node id → passed / failed / not run)."""
    mark = {"passed": "✓", "failed": "✗ FAILED"}
    lines = [
        "# Reliability: faults × flows",
        "",
        "Each row is a fault the suite injects into a real run (sandbox Seller Central in",
        "Chromium, a throwaway Dovecot, a local receiver for the owner's texts), the flow it",
        "hits, what the bot does, and the test that shows it, with that test's result when",
        "this page was made. Generated by `scripts/reliability_matrix.py` from",
        "`tests/faults.py`; do not edit by hand.",
        "",
        "| fault | " + " | ".join(FLOWS) + " | test |",
        "| --- | " + " | ".join("---" for _ in FLOWS) + " | --- |",
    ]
    for f in FAULTS:
        status = mark.get(results.get(f.test, ""), "not run")
        cells = [f"{f.outcome} {status}" if flow == f.flow else "" for flow in FLOWS]
        name = f.test.split("::", 1)[1]
        lines.append(f"| {f.fault} | " + " | ".join(cells) + f" | `{name}` |")
    return "\n".join(lines) + "\n"
