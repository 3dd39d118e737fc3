"""Seller Central in the browser: Chromium, selectors.yaml, page objects and what may be sent.

``browser`` (Chromium for a run, or kept for runs in a row), ``selectors`` (the locator
file), ``pages`` (navigation and where the browser is), the page objects ``signin``,
``picker``, ``home``, ``health`` (Account Health) and ``messages`` (intents, not
selectors), ``beside`` (a figure read by the words beside its label, where no selector
shows it), ``language`` (the session's language: configured, else the page's own),
``locale`` (words and numbers by language), ``otp`` (one-time codes), ``replies`` (templates and
the holding reply), ``messaging`` (Amazon's rules for buyer messages) and ``selectcheck``
(``rpa selectors check``). May import the top-level pieces and, of the run machinery, only
the run context (``selectcheck``, a flow itself, also registers with the registry and starts
a run); never ``mail``, ``owner``, ``console``, ``scheduling``, ``practice``, the CLI or
``flows``.
"""
