"""``python -m rpa.cli``: the ``rpa`` command."""

from rpa.cli import main

main()
