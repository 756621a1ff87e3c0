"""Shared infrastructure for every service: config, database, logging, outbox, base errors.

Business rules never live here.
"""

import warnings

# nameko 2 runs on eventlet, which announces its own deprecation on import (see README)
warnings.filterwarnings("ignore", r"(?s).*Eventlet is deprecated")
