"""Scheduled runs and retention: cron expressions from the configuration, one run at a time
per account, a missed slot run once on wake, old run folders pruned and the static index of
the recordings rewritten. May import the run machinery and the configuration; never
Seller Central, mail, the console, ``practice`` or the CLI.
"""
