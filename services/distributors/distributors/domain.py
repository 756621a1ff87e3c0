"""Pure distributor rules: the credit-code check, screening, the application and distributor state
machines. No I/O; time is passed in."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.geocode import GIVEN, locate, view
from distributors.errors import CreditCodeTaken, DistributorNotActive, IllegalTransition, InvalidApplication

# ---- GB 32100-2015 unified social credit code ------------------------------------------------------

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_character(first17: str) -> str:
    """The 18th character: 31 − (Σ value × weight mod 31), with 31 written as 0."""
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(code: str) -> str:
    """Codes are compared as written on the licence: upper case, no surrounding blanks."""
    return code.strip().upper()


def require_free_credit_code(code: str, holder: str | None) -> None:
    """One live holder per code: a submitted application or an active or suspended distributor."""
    if holder:
        raise CreditCodeTaken(f"credit code {code} is already held by {holder}",
                              [{"field": "credit_code", "message": "already held by a live "
                                "application or distributor"}])


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None when it is."""
    if len(code) != 18:
        return "must be 18 characters"
    bad = sorted({c for c in code if c not in CREDIT_CODE_ALPHABET})
    if bad:
        return f"characters outside the GB 32100-2015 alphabet: {''.join(bad)}"
    if credit_code_check_character(code[:17]) != code[17]:
        return "check character does not match (GB 32100-2015)"
    return None


# ---- geography ----------------------------------------------------------------------------------

CHINA_LAT = (18.0, 54.0)
CHINA_LON = (73.0, 135.0)
DEFAULT_RADIUS_KM = 50.0


def coordinate_problems(lat: float, lon: float, prefix: str) -> list[dict[str, str]]:
    errors = []
    if not CHINA_LAT[0] <= lat <= CHINA_LAT[1]:
        errors.append({"field": f"{prefix}lat", "message": "outside China (latitude 18 to 54)"})
    if not CHINA_LON[0] <= lon <= CHINA_LON[1]:
        errors.append({"field": f"{prefix}lon", "message": "outside China (longitude 73 to 135)"})
    return errors


def check_coordinates(lat: float, lon: float) -> None:
    """A location lies in China."""
    errors = coordinate_problems(lat, lon, "")
    if errors:
        raise InvalidApplication(f"{errors[0]['field']}: {errors[0]['message']}", errors)


HINTS = ("province", "city", "district")


def placed(loc: dict[str, Any], prefix: str = "", fallback: dict[str, Any] | None = None
           ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A location as stored: its ``lat``/``lon`` and ``geocode`` (``given`` when it sent coordinates,
    else the centre of the division its address names, or ``fallback``'s address), without the
    province/city/district hints; and the problems naming ``{prefix}field`` (coordinates outside
    China, an address that cannot be placed)."""
    place, errors = locate(loc, prefix, fallback)
    out = {k: v for k, v in loc.items() if k not in HINTS}
    if place is None:
        return out, errors
    out.update(lat=place["lat"], lon=place["lon"], geocode=place)
    return out, coordinate_problems(place["lat"], place["lon"], prefix)


def screen_application(fields: dict) -> None:
    """Screening that needs no database: the credit code and every location's place (coordinates in
    China, or an address that names a division; a location with neither is placed at the
    application's own address). The locations are placed in ``fields``."""
    errors = []
    problem = credit_code_problem(fields["credit_code"])
    if problem:
        errors.append({"field": "credit_code", "message": problem})
    for i, loc in enumerate(fields["locations"]):
        fields["locations"][i], problems = placed(loc, f"locations[{i}].", fallback=fields)
        errors += problems
    if errors:
        raise InvalidApplication(f"{errors[0]['field']}: {errors[0]['message']}", errors)


def place_location(fields: dict[str, Any]) -> dict[str, Any]:
    """A new location placed (``placed``); InvalidApplication naming the field if it cannot be."""
    out, errors = placed(fields)
    if errors:
        raise InvalidApplication(f"{errors[0]['field']}: {errors[0]['message']}", errors)
    return out


def moved_location(current: Location, changes: dict[str, Any]) -> dict[str, Any]:
    """A location's changes with where it now lies: new coordinates are ``given`` (one of lat/lon
    keeps the other); a new address re-places a location that was placed from its address, while one
    placed by coordinates keeps them. InvalidApplication naming the field if it cannot be placed."""
    hints = {k: changes[k] for k in HINTS if k in changes}
    out = {k: v for k, v in changes.items() if k not in HINTS}
    if "lat" in out or "lon" in out:
        lat, lon = out.get("lat", current.lat), out.get("lon", current.lon)
        check_coordinates(lat, lon)
        out.update(lat=lat, lon=lon, geocode=view(None, lat, lon))
    elif "address" in out and current.precision != GIVEN:
        out = place_location({**out, **hints})
    return out


# ---- applications -------------------------------------------------------------------------------

SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"


@dataclass(frozen=True)
class Application:
    """An application as submitted and decided. ``contact`` and ``locations`` are the applicant's
    documents as given (only the keys they gave)."""

    id: int
    status: str
    company_name: str
    credit_code: str
    contact: dict[str, Any]
    address: str
    province: str
    city: str
    locations: tuple[dict[str, Any], ...]
    requested_tier: str
    channels: tuple[str, ...]
    submitted_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    distributor_id: int | None = None
    status_token_hash: str | None = None  # read only where the applicant's token is checked


def hash_status_token(token: str) -> str:
    """What is kept of the applicant's status token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def status_token_matches(application: Application, token: str | None) -> bool:
    """Whether ``token`` is the one handed out with ``application`` (compared in constant time)."""
    return bool(token) and application.status_token_hash is not None and hmac.compare_digest(
        application.status_token_hash, hash_status_token(token))


def decide_application(status: str, decision: str) -> str:
    """submitted → approved | rejected; a decided application is final."""
    if status != SUBMITTED:
        raise IllegalTransition(f"application is already {status}")
    return decision


# ---- distributors -------------------------------------------------------------------------------

ACTIVE, SUSPENDED, TERMINATED = "active", "suspended", "terminated"
TIERS = ("platinum", "gold", "silver")

# action → {from status: to status}
TRANSITIONS: dict[str, dict[str, str]] = {
    "suspend": {ACTIVE: SUSPENDED},
    "reinstate": {SUSPENDED: ACTIVE},
    "terminate": {ACTIVE: TERMINATED, SUSPENDED: TERMINATED},
}
EVENTS = {"suspend": "distributor_suspended", "reinstate": "distributor_reinstated",
          "terminate": "distributor_terminated"}


@dataclass(frozen=True)
class Transition:
    kind: str  # "status" or "tier"
    from_: str | None
    to: str
    actor: str
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class Distributor:
    id: int
    company_name: str
    credit_code: str
    tier: str
    status: str
    province: str
    city: str
    flagged_for_review: bool = False
    version: int = 1  # bumped by every change, so consumers apply events in order

    @property
    def live(self) -> bool:
        """Holds its credit code against new applications."""
        return self.status in (ACTIVE, SUSPENDED)

    @property
    def may_change_things(self) -> bool:
        return self.status == ACTIVE


def transition(distributor: Distributor, action: str, actor: str, reason: str | None,
               now: datetime) -> tuple[Distributor, Transition]:
    allowed = TRANSITIONS[action]
    if distributor.status not in allowed:
        raise IllegalTransition(f"cannot {action} a distributor that is {distributor.status}")
    if action in ("suspend", "terminate") and not reason:
        raise InvalidApplication.for_field("reason", "a reason is required")
    to = allowed[distributor.status]
    return (dataclasses.replace(distributor, status=to, version=distributor.version + 1),
            Transition("status", distributor.status, to, actor, now, reason))


def change_tier(distributor: Distributor, tier: str, actor: str, now: datetime
                ) -> tuple[Distributor, Transition | None]:
    if distributor.status == TERMINATED:
        raise IllegalTransition("a terminated distributor's tier cannot change")
    if tier == distributor.tier:
        return distributor, None
    return (dataclasses.replace(distributor, tier=tier, version=distributor.version + 1),
            Transition("tier", distributor.tier, tier, actor, now, None))


def require_active(distributor: Distributor) -> None:
    if not distributor.may_change_things:
        raise DistributorNotActive(
            f"distributor {distributor.id} is {distributor.status}: it may read but not change anything")


def approval_transition(application_id: int, actor: str, now: datetime) -> Transition:
    """The first entry of a distributor's history: created active by approving its application."""
    return Transition("status", None, ACTIVE, actor, now, f"application {application_id} approved")


# ---- locations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    id: int
    distributor_id: int
    name: str
    address: str | None
    lat: float
    lon: float
    service_radius_km: float
    active: bool
    updated_at: datetime
    geocode: dict[str, Any] | None = None  # how it was placed (common.geocode.view); None: given

    @property
    def precision(self) -> str:
        return self.geocode["precision"] if self.geocode else GIVEN


def location_radius(given: float | None, approval_default: float | None) -> float:
    """A location's radius: its own, else the one set at approval, else 50 km."""
    if given is not None:
        return given
    return approval_default if approval_default is not None else DEFAULT_RADIUS_KM


def approved_locations(application: Application, default_radius_km: float | None) -> list[dict[str, Any]]:
    """The application's locations as the distributor's first ones, each with its radius."""
    return [{**loc, "service_radius_km": location_radius(loc.get("service_radius_km"), default_radius_km),
             # an application submitted before addresses were placed gave coordinates
             "geocode": loc.get("geocode") or view(None, loc["lat"], loc["lon"])}
            for loc in application.locations]
