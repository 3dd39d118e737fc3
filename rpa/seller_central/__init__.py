"""Seller Central in the browser: navigation and the page objects the flows drive.

``pages`` (navigation and where the browser is), the page objects ``signin``, ``picker``,
``home``, ``health`` (Account Health) and ``messages`` (intents, not selectors; each
declares the selectors.yaml keys it asks for as it loads), ``beside`` (a figure read by the
words beside its label, where no selector shows it), ``language`` (the session's language:
configured, else the page's own), for the account the run works in ``account_header`` (the
header's switcher), ``account_check`` (the verdict from what the pages show), ``labels``
(names and the markers pages add), ``marketplaces`` (ids, hosts and names) and
``saved_choice`` (the choice a saved sign-in was left in), ``ngs`` (New Seller Central's
dashboard, never read), ``locale`` (words and numbers by language), ``selectcheck``
(which candidate of each key resolves on the live pages, read-only, for ``rpa selectors
check --live``) and ``teach`` (a key pointed at the element a person clicks, for ``rpa
teach``). May
import the cross-cutting pieces, the configuration, ``browser`` (the selectors engine),
``messaging`` and, of the run machinery, only the run context; never the ledger, ``mail``,
``owner``, ``console``, ``scheduling``, ``practice``, the CLI or ``flows``.
"""
