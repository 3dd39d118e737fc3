"""The console: a small web app for the VA, the owner and reviewers.

``web`` (the app's state, sign-in sessions, roles, CSRF tokens, rendering), the pages
(runs, a run, escalations with the answer form, run now, health) and the files of the
recordings folder, served only to signed-in users. Runs start through the orchestrator and
answers through ``rpa.owner.answers``, as from the command line. May import the run
machinery, the owner, the configuration and the cross-cutting pieces; never ``practice``,
the CLI, or Seller Central's pages and mail directly.
"""
