"""Run the fault tests listed in tests/faults.py and write docs/reliability.md.

    .venv/bin/python scripts/reliability_matrix.py [--out docs/reliability.md]

Exits with pytest's status, so a failing fault test fails the script too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults import FAULTS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    args = parser.parse_args()
    env = dict(os.environ, RPA_RELIABILITY_OUT=str(args.out.resolve()))
    tests = sorted({f.test for f in FAULTS})
    code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            *tests], cwd=ROOT, env=env)
    print(f"wrote {args.out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
