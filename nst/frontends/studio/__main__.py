"""``python -m nst.frontends.studio``: the same as ``nst app``."""

from nst.errors import run_cli
from nst.frontends.studio import main

if __name__ == "__main__":
    run_cli(main)
