"""Seller Central in the browser: Chromium, selectors.yaml, page objects and what may be sent.

``browser`` (Chromium for a run, or kept for runs in a row), ``selectors`` (the locator
file), ``pages`` (navigation and where the browser is), the page objects ``signin``,
``picker``, ``home`` and ``messages`` (intents, not selectors), for the account the run
works in ``account_header`` (the header's switcher), ``account_check`` (the verdict from
what the pages show), ``labels`` (names and the markers pages add), ``marketplaces`` (ids,
hosts and names) and ``saved_choice`` (the choice a saved sign-in was left in), ``ngs``
(New Seller Central's dashboard, never read), ``locale`` (words and
numbers in the marketplace's language), ``otp`` (one-time codes), ``replies`` (templates and
the holding reply), ``messaging`` (Amazon's rules for buyer messages) and ``selectcheck``
(``rpa selectors check``). May import the top-level pieces and, of the run machinery, only
the run context (``selectcheck``, a flow itself, also registers with the registry and starts
a run); never ``mail``, ``owner``, ``console``, ``scheduling``, ``practice``, the CLI or
``flows``.
"""
