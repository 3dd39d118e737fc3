"""Seller Central in the browser: navigation and the page objects the flows drive.

``pages`` (navigation and where the browser is), the page objects ``signin``, ``picker``,
``home`` and ``messages`` (intents, not selectors; each declares the selectors.yaml keys it
asks for as it loads), ``locale`` (words and numbers in the marketplace's language) and
``selectcheck`` (which candidate of each key resolves on the live pages, for ``rpa
selectors check``). May import the cross-cutting pieces, the configuration, ``browser``
(the selectors engine), ``messaging`` and, of the run machinery, only the run context;
never the ledger, ``mail``, ``owner``, ``console``, ``scheduling``, ``practice``, the CLI
or ``flows``.
"""
