"""``python -m rpa.cli``: the ``rpa`` command."""

from rpa.cli import main

if __name__ == "__main__":  # not when a spawned child of a run imports this module
    main()
