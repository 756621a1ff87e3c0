"""Issue an API key from the command line (the first manager key comes from here):

    python -m gateway.keys --role manager
    python -m gateway.keys --role channel --channel tmall
    python -m gateway.keys --role distributor --distributor 42

The key is printed alone on the last line of stdout; only its hash is stored.
"""
from __future__ import annotations

import argparse
import sys

from common.config import database_url
from common.db import transaction
from common.errors import InvalidInput
from common.migrate import migrate
from common.schemas import load
from gateway.auth import ApiKeyCreateSchema, issue_key


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
