"""Request rate limits at the one entrance: per distributor on the distributor API, per client address
on the public onboarding routes (``RouteSpec.public_limit``). Internal callers — the sales team and
the storefronts' channel keys, whose order flow must never be throttled on a sales peak — are not
limited here.

Moving windows (``limits``) counted in this gateway process: with N gateway replicas behind a
balancer a caller gets up to N times the limit. Behind a reverse proxy every applicant shares the
proxy's address; set ``RATE_LIMIT_PUBLIC=off`` there and limit at the proxy.
"""
from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies
from nameko.extensions import DependencyProvider

from common.config import setting
from gateway.auth import DISTRIBUTOR, Principal
from gateway.errors import TooManyRequests

DEFAULTS = {"RATE_LIMIT_DISTRIBUTOR": "50/second", "RATE_LIMIT_PUBLIC": "30/minute"}
OFF = {"", "0", "off", "none"}


def parse_limit(name: str, value: str) -> RateLimitItem | None:
    """``"50/second"``, ``"30/minute"``… or off; anything else stops the gateway at start-up."""
    if value.strip().lower() in OFF:
        return None
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected e.g. '50/second' or 'off'") from None


class RateLimits(DependencyProvider):
    def setup(self):
        config = self.container.config
        self.distributor = parse_limit("RATE_LIMIT_DISTRIBUTOR", setting(
            config, "RATE_LIMIT_DISTRIBUTOR", DEFAULTS["RATE_LIMIT_DISTRIBUTOR"]))
        self.public = parse_limit("RATE_LIMIT_PUBLIC", setting(
            config, "RATE_LIMIT_PUBLIC", DEFAULTS["RATE_LIMIT_PUBLIC"]))
        self.windows = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def get_dependency(self, worker_ctx):
        return self

    def check(self, principal: Principal, public_limit: bool, address: str | None) -> None:
        """Count this request; raise TooManyRequests (429, with Retry-After) past the limit."""
        if principal.role == DISTRIBUTOR:
            limit, who, whom = self.distributor, f"distributor:{principal.distributor_id}", "distributor"
        elif public_limit and principal.role is None:
            limit, who, whom = self.public, f"address:{address}", "address"
        else:
            return
        if limit is None or self.windows.hit(limit, who):
            return
        reset_at = self.windows.get_window_stats(limit, who).reset_time
        wait = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests(f"more than {limit.amount} requests per {limit.GRANULARITY.name} "
                              f"from this {whom}; retry after {wait} s", headers={"Retry-After": str(wait)})
