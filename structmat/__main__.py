"""``python -m structmat``: the same as the ``structmat`` command."""

import sys

from structmat.cli import main

if __name__ == "__main__":
    sys.exit(main())
