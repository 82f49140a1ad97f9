"""``python -m sa_conformance ...`` is ``sa-conformance ...``."""

import sys

from .cli import main

sys.exit(main())
