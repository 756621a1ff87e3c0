"""The events the webhooks service publishes: none yet (what it delivers leaves over HTTP, not the
broker). Declared like every service's (common.contracts), so a first one has its place."""
from __future__ import annotations

SERVICE = "webhooks"
