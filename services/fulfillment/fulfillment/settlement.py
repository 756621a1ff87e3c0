"""Settlement (分账), pure rules: what the brand owes a distributor for the online orders it shipped.

Shipping an assignment settles it: one line per order line in it, at the order's retail unit price,
less the channel's commission at ship time. Lines fall into the distributor's statement for the
calendar month of ``shipped_at`` in China's time; a statement is ``open`` until a manager closes it,
which is allowed only once its month has ended, and then never changes. A statement's totals are
exact sums of its lines. Deterministic; no I/O; time passed in.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from fulfillment.errors import IllegalStatementChange, StatementNotFound

# Asia/Shanghai has kept UTC+8 without daylight saving since 1991; a fixed offset needs no tz database
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")  # whole strings only (fullmatch)
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")
OPEN, CLOSED = "open", "closed"
CURRENCY = "CNY"


def period_of(at: datetime) -> str:
    """``2026-12`` for any instant of December 2026 in China (2026-11-30T16:00Z is already December)."""
    return at.astimezone(CHINA).strftime("%Y-%m")


def parse_period(text: object) -> str:
    """A ``YYYY-MM`` period; StatementNotFound for anything else (a path that names no statement)."""
    if not isinstance(text, str) or not PERIOD.fullmatch(text) or not 1900 <= int(text[:4]) <= 8999:
        raise StatementNotFound(f"statement period {text!r} not found")
    return text


def period_end(period: str) -> datetime:
    """The first instant after the period: midnight of the next month's first day in China."""
    year, month = int(period[:4]), int(period[5:])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=CHINA)


def commission_of(gross: Decimal, pct: Decimal) -> Decimal:
    """gross × pct / 100, rounded half-up to the cent."""
    return (gross * pct / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ChannelRate:
    """A channel's commission rate (0 % until a manager sets one)."""

    channel: str
    commission_pct: Decimal
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class SettlementLine:
    """One order line of a shipped assignment, as the brand owes it to the distributor."""

    assignment_id: int
    distributor_id: int
    order_id: int
    external_id: str
    channel: str
    sku: str
    qty: int
    unit_price: Decimal
    gross: Decimal
    commission_pct: Decimal
    commission: Decimal
    net: Decimal
    shipped_at: datetime

    @property
    def period(self) -> str:
        return period_of(self.shipped_at)


def settle(assignment_id: int, distributor_id: int, order_id: int, external_id: str, channel: str,
           lines: Iterable[tuple[str, int]], unit_prices: dict[str, Decimal], commission_pct: Decimal,
           shipped_at: datetime) -> tuple[SettlementLine, ...]:
    """The settlement lines of a shipped assignment: each line at the order's retail unit price."""
    out = []
    for sku, qty in lines:
        unit = Decimal(unit_prices[sku])
        gross = (unit * qty).quantize(CENT)
        commission = commission_of(gross, commission_pct)
        out.append(SettlementLine(assignment_id, distributor_id, order_id, external_id, channel, sku, qty,
                                  unit, gross, commission_pct, commission, gross - commission, shipped_at))
    return tuple(out)


@dataclass(frozen=True)
class Totals:
    lines: int = 0
    gross: Decimal = ZERO
    commission: Decimal = ZERO
    net: Decimal = ZERO

    def plus(self, lines: Iterable[SettlementLine]) -> Totals:
        count, gross, commission, net = self.lines, self.gross, self.commission, self.net
        for line in lines:
            count += 1
            gross += line.gross
            commission += line.commission
            net += line.net
        return Totals(count, gross, commission, net)


@dataclass(frozen=True)
class Statement:
    distributor_id: int
    period: str
    status: str
    totals: Totals
    closed_at: datetime | None = None
    closed_by: str | None = None

    def adding(self, lines: Iterable[SettlementLine]) -> Statement:
        """Lines join an open statement only (a closed one never changes)."""
        if self.status != OPEN:
            raise IllegalStatementChange(
                f"the statement of distributor {self.distributor_id} for {self.period} is closed")
        return Statement(self.distributor_id, self.period, self.status, self.totals.plus(lines))

    def close(self, actor: str, now: datetime) -> Statement:
        """Closed by a manager once its month has ended; IllegalStatementChange before, or twice."""
        if self.status == CLOSED:
            raise IllegalStatementChange(f"the statement for {self.period} is already closed")
        if now < period_end(self.period):
            raise IllegalStatementChange(
                f"the statement for {self.period} can be closed from {period_end(self.period).isoformat()} "
                "(after its month has ended)")
        return Statement(self.distributor_id, self.period, CLOSED, self.totals, now, actor)


def statements_of(lines: Iterable[SettlementLine]) -> dict[tuple[int, str], Statement]:
    """Open statements built from lines alone (the model the property tests check the store against)."""
    out: dict[tuple[int, str], Statement] = {}
    for line in lines:
        key = (line.distributor_id, line.period)
        current = out.get(key) or Statement(line.distributor_id, line.period, OPEN, Totals())
        out[key] = current.adding([line])
    return out


def money(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT))


def pct_text(value: Decimal) -> str:
    """``12.5``, ``0``: the percentage without trailing zeros (as pricing shows percentages)."""
    text = format(Decimal(value).normalize(), "f")
    return text


def line_view(line: SettlementLine) -> dict:
    return {"order_id": line.order_id, "external_id": line.external_id, "channel": line.channel,
            "sku": line.sku, "qty": line.qty, "unit_price": money(line.unit_price), "gross": money(line.gross),
            "commission_pct": pct_text(line.commission_pct), "commission": money(line.commission),
            "net": money(line.net), "shipped_at": line.shipped_at.isoformat(),
            "assignment_id": line.assignment_id}


def statement_view(statement: Statement) -> dict:
    t = statement.totals
    return {"distributor_id": statement.distributor_id, "period": statement.period, "status": statement.status,
            "lines": t.lines, "gross": money(t.gross), "commission": money(t.commission), "net": money(t.net),
            "currency": CURRENCY,
            "closed_at": statement.closed_at.isoformat() if statement.closed_at else None,
            "closed_by": statement.closed_by}
