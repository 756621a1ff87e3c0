"""The distributors service's SQL. Rows become frozen domain values at this boundary: no row leaves
as a dict."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg2.extras

from distributors.domain import Application, Distributor, Location, Transition

APPLICATION_COLUMNS = ("id, status, company_name, credit_code, contact, address, province, city, "
                       "locations, requested_tier, channels, submitted_at, decided_at, decided_by, "
                       "reason, distributor_id")
DISTRIBUTOR_COLUMNS = ("id, company_name, credit_code, tier, status, province, city, flagged_for_review, "
                       "version")
LOCATION_COLUMNS = ("id, distributor_id, name, address, lat, lon, service_radius_km, active, "
                    "updated_at, geocode")


def lock_credit_code(cur, credit_code: str) -> None:
    """Serialise screening of one credit code across concurrent applications and approvals."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('credit_code:' || %s))", (credit_code,))


def credit_code_holder(cur, credit_code: str) -> str | None:
    """Who holds the code live: a submitted application or an active/suspended distributor."""
    cur.execute("SELECT id FROM applications WHERE credit_code = %s AND status = 'submitted' LIMIT 1",
                (credit_code,))
    row = cur.fetchone()
    if row:
        return f"application {row['id']}"
    cur.execute("SELECT id FROM distributors WHERE credit_code = %s "
                "AND status IN ('active', 'suspended') LIMIT 1", (credit_code,))
    row = cur.fetchone()
    return f"distributor {row['id']}" if row else None


# ---- applications -------------------------------------------------------------------------------


def insert_application(cur, fields: dict[str, Any], token_hash: str, now: datetime) -> int:
    cur.execute(
        "INSERT INTO applications (status, status_token_hash, company_name, credit_code, contact, "
        "address, province, city, locations, requested_tier, channels, submitted_at) "
        "VALUES ('submitted', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (token_hash, fields["company_name"], fields["credit_code"], psycopg2.extras.Json(fields["contact"]),
         fields["address"], fields["province"], fields["city"],
         psycopg2.extras.Json(fields["locations"]), fields["requested_tier"], fields["channels"], now))
    return cur.fetchone()["id"]


def _application(r: dict) -> Application:
    return Application(r["id"], r["status"], r["company_name"], r["credit_code"], r["contact"], r["address"],
                       r["province"], r["city"], tuple(r["locations"]), r["requested_tier"],
                       tuple(r["channels"]), r["submitted_at"], r["decided_at"], r["decided_by"], r["reason"],
                       r["distributor_id"], r.get("status_token_hash"))


def get_application(cur, application_id: int, for_update: bool = False) -> Application | None:
    cur.execute(f"SELECT {APPLICATION_COLUMNS}, status_token_hash FROM applications WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (application_id,))
    row = cur.fetchone()
    return _application(row) if row else None


def decide_application(cur, application_id: int, status: str, actor: str, now: datetime,
                       reason: str | None, distributor_id: int | None) -> None:
    cur.execute("UPDATE applications SET status = %s, decided_at = %s, decided_by = %s, reason = %s, "
                "distributor_id = %s WHERE id = %s",
                (status, now, actor, reason, distributor_id, application_id))


def _filtered(columns: str, table: str, filters: dict, after: int | None, limit: int) -> tuple:
    where, args = [], []
    for column, value in filters.items():
        if value:
            where.append(f"{column} = %s")
            args.append(value)
    if after is not None:
        where.append("id > %s")
        args.append(after)
    sql = f"SELECT {columns} FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
    return sql + " ORDER BY id LIMIT %s", (*args, limit + 1)


def list_applications(cur, filters: dict, after: int | None, limit: int) -> list[Application]:
    cur.execute(*_filtered(APPLICATION_COLUMNS, "applications", filters, after, limit))
    return [_application(r) for r in cur.fetchall()]


# ---- distributors -------------------------------------------------------------------------------


def _distributor(row: dict) -> Distributor:
    return Distributor(row["id"], row["company_name"], row["credit_code"], row["tier"], row["status"],
                       row["province"], row["city"], row["flagged_for_review"], row["version"])


def insert_distributor(cur, application: Application, tier: str, now: datetime) -> Distributor:
    cur.execute(
        "INSERT INTO distributors (application_id, company_name, credit_code, tier, status, province, "
        f"city, created_at, updated_at) VALUES (%s, %s, %s, %s, 'active', %s, %s, %s, %s) "
        f"RETURNING {DISTRIBUTOR_COLUMNS}",
        (application.id, application.company_name, application.credit_code, tier,
         application.province, application.city, now, now))
    return _distributor(cur.fetchone())


def get_distributor(cur, distributor_id: int, for_update: bool = False) -> Distributor | None:
    cur.execute(f"SELECT {DISTRIBUTOR_COLUMNS} FROM distributors WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (distributor_id,))
    row = cur.fetchone()
    return _distributor(row) if row else None


def flag_for_review(cur, distributor_id: int, now: datetime) -> bool:
    cur.execute("UPDATE distributors SET flagged_for_review = true, updated_at = %s "
                "WHERE id = %s AND NOT flagged_for_review", (now, distributor_id))
    return cur.rowcount == 1


def save_distributor(cur, d: Distributor, now: datetime) -> None:
    cur.execute("UPDATE distributors SET tier = %s, status = %s, flagged_for_review = %s, version = %s, "
                "updated_at = %s WHERE id = %s",
                (d.tier, d.status, d.flagged_for_review, d.version, now, d.id))


def list_distributors(cur, filters: dict, after: int | None, limit: int) -> list[Distributor]:
    cur.execute(*_filtered(DISTRIBUTOR_COLUMNS, "distributors", filters, after, limit))
    return [_distributor(r) for r in cur.fetchall()]


def add_history(cur, distributor_id: int, t: Transition) -> None:
    cur.execute("INSERT INTO distributor_history (distributor_id, kind, from_value, to_value, actor, at, "
                "reason) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (distributor_id, t.kind, t.from_, t.to, t.actor, t.at, t.reason))


def history(cur, distributor_ids: list[int]) -> dict[int, list[Transition]]:
    cur.execute("SELECT distributor_id, kind, from_value, to_value, actor, at, reason "
                "FROM distributor_history WHERE distributor_id = ANY(%s) ORDER BY id", (distributor_ids,))
    out: dict[int, list[Transition]] = {i: [] for i in distributor_ids}
    for r in cur.fetchall():
        out[r["distributor_id"]].append(
            Transition(r["kind"], r["from_value"], r["to_value"], r["actor"], r["at"], r["reason"]))
    return out


# ---- locations ----------------------------------------------------------------------------------


def _location(r: dict) -> Location:
    return Location(r["id"], r["distributor_id"], r["name"], r["address"], r["lat"], r["lon"],
                    r["service_radius_km"], r["active"], r["updated_at"], r["geocode"])


def insert_location(cur, distributor_id: int, fields: dict, now: datetime) -> Location:
    """``fields`` as ``domain.placed`` left them, with their ``geocode``."""
    cur.execute(
        "INSERT INTO locations (distributor_id, name, address, lat, lon, geocode, service_radius_km, active, "
        f"created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {LOCATION_COLUMNS}",
        (distributor_id, fields["name"], fields.get("address"), fields["lat"], fields["lon"],
         psycopg2.extras.Json(fields["geocode"]), fields["service_radius_km"], fields.get("active", True), now, now))
    return _location(cur.fetchone())


def get_location(cur, location_id: int, distributor_id: int, for_update: bool = False) -> Location | None:
    """One of ``distributor_id``'s locations."""
    cur.execute(f"SELECT {LOCATION_COLUMNS} FROM locations WHERE id = %s AND distributor_id = %s"
                + (" FOR UPDATE" if for_update else ""), (location_id, distributor_id))
    row = cur.fetchone()
    return _location(row) if row else None


def any_location(cur, location_id: int) -> Location | None:
    """A location by id whoever's it is (for services that keep a read model of locations)."""
    cur.execute(f"SELECT {LOCATION_COLUMNS} FROM locations WHERE id = %s", (location_id,))
    row = cur.fetchone()
    return _location(row) if row else None


def update_location(cur, location_id: int, changes: dict, now: datetime) -> Location:
    values = {k: psycopg2.extras.Json(v) if k == "geocode" else v for k, v in changes.items()}
    sets = ", ".join(f"{column} = %s" for column in values)
    cur.execute(f"UPDATE locations SET {sets}, updated_at = %s WHERE id = %s RETURNING {LOCATION_COLUMNS}",
                (*values.values(), now, location_id))
    return _location(cur.fetchone())


def locations_of(cur, distributor_ids: list[int]) -> dict[int, list[Location]]:
    cur.execute(f"SELECT {LOCATION_COLUMNS} FROM locations WHERE distributor_id = ANY(%s) ORDER BY id",
                (distributor_ids,))
    out: dict[int, list[Location]] = {i: [] for i in distributor_ids}
    for r in cur.fetchall():
        out[r["distributor_id"]].append(_location(r))
    return out


def list_locations(cur, distributor_id: int, after: int | None, limit: int) -> list[Location]:
    cur.execute(*_filtered(LOCATION_COLUMNS, "locations", {"distributor_id": distributor_id}, after,
                           limit))
    return [_location(r) for r in cur.fetchall()]
