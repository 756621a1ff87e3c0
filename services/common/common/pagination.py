"""Opaque keyset cursors: ``{items, next_cursor}`` lists page by the last key seen."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from common.errors import MAX_ID, InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(key: Any) -> str:
    raw = json.dumps({"after": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_CURSOR = 1024  # characters: a key of ours fits many times over
MAX_KEY_TEXT = 256

Shape = type | tuple  # int, str, datetime, or a tuple of those for a composite key


def decode_cursor(cursor: str | None, shape: Shape | None = None) -> Any:
    """The key a cursor carries, checked against ``shape`` (``int``, ``str`` or a tuple of them for
    a composite key): a cursor is opaque to clients, but nothing a client sends is trusted, and a key
    of the wrong kind would otherwise reach the SQL."""
    if cursor in (None, ""):
        return None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidInput.for_field("cursor", "malformed cursor") from None
    if shape is not None and not fits(after, shape):
        raise InvalidInput.for_field("cursor", "malformed cursor")
    return after


def fits(value: Any, shape: Shape) -> bool:
    if isinstance(shape, tuple):
        return (isinstance(value, list) and len(value) == len(shape)
                and all(fits(v, s) for v, s in zip(value, shape, strict=True)))
    if shape is int:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID
    if shape is str:
        return (isinstance(value, str) and len(value) <= MAX_KEY_TEXT and "\x00" not in value
                and value.isprintable())
    if shape is datetime:  # an ISO 8601 instant with its offset, as the key's isoformat() wrote it
        try:
            return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    return False


def page(rows: list, limit: int, key) -> dict:
    """``rows`` was fetched with ``limit + 1`` to know whether another page exists."""
    items = rows[:limit]
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return {"items": items, "next_cursor": next_cursor}
