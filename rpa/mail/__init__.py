"""The support mailbox: IMAP, reading untrusted mail, and the triage rules.

``imap`` (batched reads, moves to Trash, flags), ``folders`` (which folders are Spam
and Trash on this host), ``decoding``, ``headers`` and
``body`` (bytes to a :class:`~rpa.mail.headers.MailItem` and readable text), ``summary``
(the owner's one or two sentences, or what bounced), ``kinds`` (bounces, auto-replies
and mailing lists), ``auth`` (Authentication-Results: is the sender
authenticated), ``amazon`` (Amazon's mail domains, and its name even disguised), ``rules``
(what to do with each email), ``replying`` (threaded replies to
senders; reading an owner's answer) and ``amazon_domains.txt`` (Amazon's domains). Imports
only the cross-cutting top-level pieces (errors, patterns, redaction, text hygiene,
``rpa.smtp``): never Seller Central, ``rpa.messaging``, the run machinery, the owner, the
configuration, the console, the scheduler or ``practice``.
"""
