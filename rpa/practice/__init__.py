"""Practice and test infrastructure that ships with the product; never used on a real account.

``sandbox`` (a stateful Seller Central to practise on), ``dovecot`` (a throwaway IMAP
server), ``smtpserver`` (a throwaway SMTP server that keeps what it receives),
``postgres`` (a throwaway PostgreSQL server, a database per test), ``redis`` (a throwaway
Redis server), ``mailcorpus`` (sample mail), ``receiver`` (a loopback HTTP receiver for the
owner's texts), ``demo`` (the routine against all of them) and ``scale`` (the demo of
scale: several sandbox sellers, one account each, run N at a time). Only the CLI (inside
the commands that need it), the demo, tests and scripts import it; the sandbox, the
servers, the corpus and the receiver import nothing else of ``rpa``.
"""
