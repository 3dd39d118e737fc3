"""The run machinery: one run of the routine for one account, from lock to report.

``orchestrator`` (lock, browser, flows in order, summary), ``context`` (what a flow is
handed), ``registry`` (flows by name; the one module that loads ``flows``), ``evidence``
(screenshots, trace, run.json, report.html) and ``capture`` (the full-page screenshot,
encoded for speed). May import the top-level pieces, ``ledger``, ``seller_central`` and
``owner``; never ``mail``, ``practice`` or the CLI.
"""
