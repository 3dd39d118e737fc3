"""A throwaway Dovecot IMAP server on 127.0.0.1 for the tests, the demo and the benchmark;
practice infrastructure, never used against a real mailbox.

``install`` (finding the binary and its version), ``config`` (the configuration for 2.3 and
2.4, folder layouts), ``server`` (starting, stopping, restarting the process) and
``mailstore`` (seeding and reading back mail). May import the standard library and
imapclient only (nothing else of rpa)."""

from rpa.practice.dovecot.config import LAYOUTS
from rpa.practice.dovecot.install import available, dovecot_version
from rpa.practice.dovecot.server import DovecotServer

__all__ = ["LAYOUTS", "DovecotServer", "available", "dovecot_version"]
