"""Opaque keyset cursors: ``{items, next_cursor}`` lists page by the last key seen."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from common.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(key: Any) -> str:
    raw = json.dumps({"after": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if cursor in (None, ""):
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return data["after"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput.for_field("cursor", "malformed cursor") from None


def page(rows: list, limit: int, key) -> dict:
    """``rows`` was fetched with ``limit + 1`` to know whether another page exists."""
    items = rows[:limit]
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return {"items": items, "next_cursor": next_cursor}
