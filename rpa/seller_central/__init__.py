"""Seller Central in the browser: Chromium, selectors.yaml, page objects and what may be sent.

``browser`` (Chromium for a run, or kept for runs in a row), ``selectors`` (the locator
file), ``pages`` (navigation and where the browser is), the page objects ``signin``,
``picker``, ``home`` and ``messages`` (intents, not selectors), ``locale`` (words and
numbers in the marketplace's language), ``otp`` (one-time codes), ``replies`` (templates and
the holding reply), ``messaging`` (Amazon's rules for buyer messages) and ``selectcheck``
(``rpa selectors check``). May import the top-level pieces and, of the run machinery, only
the run context (``selectcheck``, a flow itself, also registers with the registry and starts
a run); never ``mail``, ``owner``, ``console``, ``scheduling``, ``practice``, the CLI or
``flows``.
"""
