"""Business flows, one module each, registered by name with ``rpa.run.registry.flow``.

Each module is a plugin: an entry point of the group ``rpa.flows`` in pyproject.toml names
it, and the registry loads every one (nothing in ``rpa`` names ``flows``). A flow is the
seller's procedure for one part of the routine, written against the page objects
(``rpa.seller_central``), the mailbox (``rpa.mail``), what may be said to a buyer
(``rpa.messaging``), the owner (``rpa.owner``) and the run context (``rpa.run``), with the
configuration and ``rpa.smtp``. Flows never import ``rpa.practice``, the console, the
scheduler or the CLI, and hold no selector strings: those live in ``selectors.yaml``.
"""
