"""The sandbox Seller Central: a stateful practice copy the bot, the demo and the tests drive.

It serves the same URLs, element ids, names and wording as the real site (see the shared
notes on Seller Central), with scenario data from YAML, a JSON control API under
``/__sandbox/`` and injectable faults (captcha, intrusion check, slow pages, errors).

``app`` (the Starlette app: the gate, the signed-in pages), ``auth`` (the sign-in pages),
``challenge`` (AWS WAF's check and the button wall before sign-in), ``picker`` (the
account picker, current and older), ``header`` (the header's account switcher, three
generations), ``ngs`` (New Seller Central's dashboard and its redirect), ``messaging`` (Buyer
Messages: the v3 app or the legacy inbox, and the threads), ``control`` (the
control API), ``scenario`` (the YAML scenarios), ``sellers`` (several sellers in one
sandbox, each on a port of its own: an agency's accounts), ``signin_variants`` (the
sign-in pages' versions a scenario serves), ``state`` (sessions, threads, counters,
faults), ``wording`` (the pages' words per locale), ``web`` (shared helpers) and
``server`` (a loopback server in a thread).
Imports nothing else of ``rpa``: it stands apart from the bot it exercises.
"""

from rpa.practice.sandbox.app import create_app
from rpa.practice.sandbox.scenario import (
    Scenario,
    ScenarioError,
    list_scenarios,
    load_scenario,
)
from rpa.practice.sandbox.sellers import SellersSandbox, list_sellers_files, load_sellers
from rpa.practice.sandbox.server import SandboxServer
from rpa.practice.sandbox.state import SandboxState

__all__ = ["SandboxServer", "SandboxState", "Scenario", "ScenarioError", "SellersSandbox",
           "create_app", "list_scenarios", "list_sellers_files", "load_scenario",
           "load_sellers"]
