"""Issue an API key from the command line (the first manager key comes from here):

    python -m gateway.keys --role manager
    python -m gateway.keys --role channel --channel tmall
    python -m gateway.keys --role distributor --distributor 42

The key is printed alone on the last line of stdout; only its hash is stored. A distributor key is
issued only for a distributor the distributors service knows (asked over ``AMQP_URI``), as over HTTP.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from common.config import database_url
from common.db import transaction
from common.errors import InvalidInput
from common.migrate import migrate
from common.schemas import load
from gateway.auth import ApiKeyCreateSchema, issue_key


def distributor_problem(distributor_id: str, amqp_uri: str) -> str | None:
    """None when the distributors service knows ``distributor_id``; else what is wrong."""
    import warnings

    warnings.filterwarnings("ignore", r"(?s).*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    from nameko.exceptions import RpcTimeout, UnknownService
    from nameko.standalone.rpc import ServiceRpcProxy

    import common.errors
    import distributors.errors
    from common.errors import NotFound

    common.errors.make_deserializable(common.errors, distributors.errors)
    logging.getLogger("amqp").setLevel(logging.ERROR)  # its chatter when a refused call's channel closes
    try:
        with ServiceRpcProxy("distributors", {"AMQP_URI": amqp_uri, "serializer": "json"},
                             timeout=10) as proxy:
            proxy.get_profile(distributor_id)
    except NotFound:
        return f"distributor_id: no distributor {distributor_id}"
    except (UnknownService, RpcTimeout, OSError) as exc:
        return (f"cannot check distributor {distributor_id}: the distributors service did not answer "
                f"({type(exc).__name__}); start the system (make run) first")
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.keys", description=__doc__.split("\n")[0])
    parser.add_argument("--role", required=True)
    parser.add_argument("--channel", default=None)
    parser.add_argument("--distributor", default=None)
    args = parser.parse_args(argv)
    request = {"role": args.role}
    if args.channel:
        request["channel"] = args.channel
    if args.distributor:
        request["distributor_id"] = args.distributor
    try:
        fields = load(ApiKeyCreateSchema, request)
    except InvalidInput as exc:
        for err in exc.errors:
            print(f"error: {err['field']}: {err['message']}", file=sys.stderr)
        return 2
    if fields["role"] == "distributor":
        problem = distributor_problem(fields["distributor_id"],
                                      os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/"))
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2 if problem.startswith("distributor_id:") else 1
    url = database_url("gateway")
    migrate("gateway", url)
    with transaction(url) as cur:
        issued = issue_key(cur, fields["role"], "cli", fields.get("distributor_id"),
                           fields.get("channel"))
    print(f"# API key {issued['id']} for role {issued['role']} (shown once; store it now):")
    print(issued["api_key"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
