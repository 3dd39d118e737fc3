"""Seller Central in the browser: Chromium, selectors.yaml, page objects and what may be sent.

``browser`` (one Chromium per run), ``selectors`` (the locator file), ``pages`` (navigation
and where the browser is), the page objects ``signin``, ``picker``, ``home`` and
``messages`` (intents, not selectors), ``otp`` (one-time codes), ``replies`` (templates and
the holding reply), ``messaging`` (Amazon's rules for buyer messages) and ``selectcheck``.
May import the top-level pieces and the run context; never ``mail``, ``owner``,
``practice``, the CLI or ``flows``.
"""
