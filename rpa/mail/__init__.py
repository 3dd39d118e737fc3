"""The support mailbox: IMAP, reading untrusted mail, and the triage rules.

``imap`` (folders, batched reads, moves to Trash, flags), ``decoding``, ``headers`` and
``body`` (bytes to a :class:`~rpa.mail.headers.MailItem` and readable text), ``summary``
(the owner's one or two sentences) and ``rules`` (what to do with each email). Imports only
the cross-cutting top-level pieces (errors, patterns, redaction): never Seller Central,
the run machinery, the owner, the configuration or ``practice``.
"""
