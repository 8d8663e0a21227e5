"""``python -m nst COMMAND ...``: the ``nst`` command."""

import sys

from nst.frontends.cli import main

sys.exit(main())
