"""API keys: random, shown once, stored only as a SHA-256 hash (a 256-bit random key needs no slow
hash: there is nothing to brute-force). Roles come from SPEC."""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from common.errors import Forbidden
from common.schemas import Id
from gateway import store
from gateway.errors import Unauthenticated

MANAGER, SALES, CHANNEL, DISTRIBUTOR = "manager", "sales", "channel", "distributor"
ROLES = (MANAGER, SALES, CHANNEL, DISTRIBUTOR)
KEY_PREFIX = "dcm_"
CACHE_SECONDS = 5.0  # a revoked key stops working on other gateway replicas within this time


@dataclass(frozen=True)
class Principal:
    key_id: int | None
    role: str | None
    distributor_id: str | None = None
    channel: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.key_id}" if self.role else "anonymous"

    @property
    def scope(self) -> str:
        """Whose idempotency keys these are."""
        return f"key:{self.key_id}" if self.key_id is not None else "anonymous"


ANONYMOUS = Principal(None, None)


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyCreateSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    distributor_id = Id()  # 42 or "42"
    channel = fields.String(validate=validate.Regexp(r"^[a-z0-9_]{1,32}$",
                                                     error="1-32 of a-z 0-9 _ (e.g. tmall)"))

    @validates_schema
    def check_binding(self, data, **kwargs):
        role = data.get("role")
        if role == CHANNEL and not data.get("channel"):
            raise ValidationError("required for a channel key", "channel")
        if role == DISTRIBUTOR and not data.get("distributor_id"):
            raise ValidationError("required for a distributor key", "distributor_id")
        if role != CHANNEL and data.get("channel"):
            raise ValidationError("only a channel key names a channel", "channel")
        if role != DISTRIBUTOR and data.get("distributor_id"):
            raise ValidationError("only a distributor key names a distributor", "distributor_id")


class ApiKeyIssuedSchema(Schema):
    id = fields.Integer()
    api_key = fields.String()
    role = fields.String()
    distributor_id = fields.Integer(allow_none=True)
    channel = fields.String(allow_none=True)


def issue_key(cur, role: str, created_by: str, distributor_id: int | str | None = None,
              channel: str | None = None) -> dict:
    """A new key, as ``ApiKeyIssuedSchema`` shows it: ``distributor_id`` is an integer there, however
    the caller held it (the key table keeps it as text, the form every principal carries)."""
    number = None if distributor_id is None else int(distributor_id)
    key = new_key()
    key_id = store.insert_key(cur, hash_key(key), key[:8], role, number, channel, created_by)
    return {"id": key_id, "api_key": key, "role": role, "distributor_id": number,
            "channel": channel}


class KeyCache:
    """Principals by key hash for a few seconds, so a request costs no key query in the hot path."""

    def __init__(self, ttl: float = CACHE_SECONDS):
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def get(self, key_hash: str) -> tuple[bool, Principal | None]:
        hit = self._entries.get(key_hash)
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def put(self, key_hash: str, principal: Principal | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + self.ttl, principal)

    def evict(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)


def authenticate(cur_factory, cache: KeyCache, authorization: str | None,
                 roles: tuple[str, ...] | None) -> Principal:
    """The caller behind ``Authorization: Bearer <key>``; public routes (roles None) take anyone."""
    if roles is None and not authorization:
        return ANONYMOUS
    if not authorization or not authorization.startswith("Bearer "):
        if roles is None:
            return ANONYMOUS
        raise Unauthenticated("missing bearer API key (Authorization: Bearer <key>)")
    key_hash = hash_key(authorization[len("Bearer "):].strip())
    cached, principal = cache.get(key_hash)
    if not cached:
        row = store.key_by_hash(cur_factory(), key_hash)
        principal = (Principal(row["id"], row["role"], row["distributor_id"], row["channel"])
                     if row else None)
        cache.put(key_hash, principal)
    if principal is None:
        if roles is None:
            return ANONYMOUS
        raise Unauthenticated("unknown or revoked API key")
    if roles is not None and principal.role not in roles:
        raise Forbidden(f"role {principal.role!r} may not call this route")
    return principal
