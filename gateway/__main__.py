"""`python -m gateway` starts the service, like `trunkline serve`."""

import sys

from gateway.cli import main

sys.exit(main(sys.argv[1:] or ["serve"]))
