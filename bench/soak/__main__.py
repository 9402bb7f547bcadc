"""`python -m bench.soak`: see run.py."""

import sys

from bench.soak.run import main

sys.exit(main())
