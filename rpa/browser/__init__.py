"""The browser, for any site: Chromium for a run and the locators of selectors.yaml.

``chromium`` (Chromium launched once per run on the account's persistent profile or with
its saved browser state, or kept open for runs in a row), ``profile`` (the account's
profile folder: owner-only, started from an old saved state, a crashed browser's lock
cleared, a profile Chromium refuses kept aside), ``saved_state`` (the saved browser state
file: written owner-only, checked, moved aside when unusable), ``display`` (where a visible
browser draws: the user's display or a private Xvfb), ``selectors`` (the engine behind
selectors.yaml: loading and checking the file, candidates tried in order, ``which`` of
several keys shows, whether a key is ``present``, and the keys each page module declares
as it loads), ``overlay`` (selectors.local.yaml: keys taught on this machine, tried first;
diff and export), ``confirmed`` (each key's source, read from the file's comments),
``pagesnap`` (a page's accessibility snapshot and scrubbed HTML), ``readonly`` (a browser
that sends nothing that could change anything) and ``pointing`` (a person clicks an
element; the candidates that find exactly it).
Nothing here knows Seller Central. May import the cross-cutting top-level pieces and the
configuration; never the ledger, the owner, the run machinery, Seller Central, ``mail``,
``practice``, the CLI or ``flows``.
"""
