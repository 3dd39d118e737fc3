"""Scheduled runs and retention: cron expressions from the configuration, one run at a time
per account, a missed slot run once on wake, old run folders pruned and the static index of
the recordings rewritten. May import the run machinery and the configuration; never
Seller Central, mail, the console, ``practice`` or the CLI.

Modules: ``cron`` (slots of a cron expression in the schedule's timezone, DST-safe),
``scheduler`` (what is due, one run per account, ``state/schedule.json``, the loop and its
stop on SIGTERM), ``retention`` (pruning run folders, ``recordings/index.html``).
"""
