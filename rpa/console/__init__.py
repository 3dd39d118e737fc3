"""The console: a small web app for the VA, the owner and reviewers.

``web`` (the app's state, sign-in sessions, roles, CSRF tokens, rendering), ``app`` (the
routes, sign-in, the files of the recordings folder served only to signed-in users),
``runs`` (Runs, a run, Health), ``escalations`` (with the answer form) and ``runnow``.
Runs start through the orchestrator and answers through ``rpa.owner.answers``, as from the
command line. May import the run machinery, the owner, the configuration, the
cross-cutting pieces, ``rpa.messaging`` (to preview an answer) and the scheduler's ``cron``
(the next slots); never ``practice``, the CLI, ``flows``, Seller Central or mail.
"""
