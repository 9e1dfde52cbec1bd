"""``python -m portreg QUERY``: the ``portreg`` command, for those who have only pip."""

import sys

from . import _portreg


def main() -> int:
    """Runs ``portreg`` with the arguments; its exit code."""
    sys.stdout.flush()
    return _portreg.cli(["portreg", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
