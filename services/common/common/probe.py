"""Container health check for a service with no HTTP port: its ``health`` RPC answers in time.

    python -m common.probe catalog      # exit 0 when healthy
"""
from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    import warnings

    warnings.filterwarnings("ignore", r"(?s).*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ServiceRpcProxy

    service = argv[0]
    config = {"AMQP_URI": os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/"),
              "serializer": "json"}
    try:
        with ServiceRpcProxy(service, config, timeout=5) as proxy:
            print(proxy.health())
        return 0
    except Exception as exc:  # any failure is "unhealthy"
        print(f"{service}: unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
