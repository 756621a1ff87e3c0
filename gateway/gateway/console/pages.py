"""The console's pages: each reads and writes through the gateway's JSON API (``GatewayApi``) with the
signed-in key, then renders a template. Declared once with ``@page``; ``routing`` does the rest."""
from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from werkzeug.wrappers import Request, Response

from gateway.console import assets, i18n, maps, sessions
from gateway.console.api import ApiProblem, GatewayApi
from gateway.console.routing import ASSET, FORM, PUBLIC, SIGN_IN, SIGN_IN_PAGE, SIGN_OUT, page
from gateway.console.sessions import redirect

TIERS = ("platinum", "gold", "silver")
APPLICATION_STATUSES = ("submitted", "approved", "rejected")
DISTRIBUTOR_STATUSES = ("active", "suspended", "terminated")
ORDER_STATUSES = ("routed", "partially_routed", "backordered", "shipped", "cancelled")
PARITY_DAYS = 30


@lru_cache(maxsize=1)
def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(assets.TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(swatch=maps.swatch, asset_url=assets.url)
    return env


@dataclass
class Page:
    """One console request after admission: who (``session``), in which language, with which API."""

    request: Request
    admission: sessions.Admission
    api_url: str
    request_id: str

    @property
    def session(self) -> sessions.Session | None:
        return self.admission.session

    @property
    def lang(self) -> str:
        return i18n.language(self.request.args.get("lang") or self.request.cookies.get(sessions.LANG_COOKIE))

    @property
    def api(self) -> GatewayApi:
        return GatewayApi(self.api_url, self.session.api_key, self.request_id)

    def t(self, key: str, **values: Any) -> str:
        return i18n.text(self.lang, key, **values)

    def render(self, template: str, http_status: int = 200, **context: Any) -> Response:
        lang = self.lang
        html = templates().get_template(template).render(
            t=self.t, label=lambda group, value: i18n.label(lang, group, value), lang=lang,
            html_lang=i18n.HTML_LANG[lang], session=self.session, path=self.request.path,
            here=self.request.full_path.rstrip("?"), notice=self.request.args.get("notice"),
            idempotency_key=secrets.token_urlsafe(16), **context)
        return Response(html, status=http_status, mimetype="text/html")

    def problem(self, problem: ApiProblem) -> Response:
        """The API's refusal, in the page (401: the key was revoked, so the session is over)."""
        if problem.status == 401:
            return sessions.to_sign_in(self.request)
        return self.render("error.html", http_status=problem.status if problem.status < 500 else 502,
                           problem=problem)


def field(request: Request, name: str, limit: int = 200) -> str:
    return (request.form.get(name) or request.args.get(name) or "").strip()[:limit]


def back(page: Page, fallback: str, notice: str) -> Response:
    target = sessions.safe_next(page.request.form.get("next") or fallback)
    return redirect(target + ("&" if "?" in target else "?") + "notice=" + quote(notice))


def act(page: Page, path: str, body: dict | None, fallback: str, notice: str) -> Response:
    """A form's one API call; then back to the page it came from (post/redirect/get), or the refusal.
    The form's idempotency key makes a double submit one change."""
    try:
        page.api.post(path, body, idempotency_key=page.request.form.get("idempotency_key") or None)
    except ApiProblem as problem:
        return page.problem(problem)
    return back(page, fallback, notice)


# ---- assets, language, sign-in ----------------------------------------------------------------------


@page("GET", "/console/assets/<name>", kind=ASSET)
def asset(page: Page, name: str) -> Response:
    return assets.serve(name)


@page("GET", "/console/lang/<lang>", kind=PUBLIC)
def switch_language(page: Page, lang: str) -> Response:
    response = redirect(sessions.safe_next(page.request.args.get("next")))
    response.set_cookie(sessions.LANG_COOKIE, i18n.language(lang), max_age=365 * 86400,
                        path=sessions.COOKIE_PATH, samesite="Strict", httponly=True,
                        secure=sessions.secure_request(page.request))
    return response


@page("GET", "/console/sign-in", kind=SIGN_IN_PAGE)
def sign_in_form(page: Page) -> Response:
    return _sign_in(page)


@page("POST", "/console/sign-in", kind=SIGN_IN)
def sign_in_refused(page: Page) -> Response:
    return _sign_in(page, status=401)  # admission signed in (and redirected) when the key was good


def _sign_in(page: Page, status: int = 200) -> Response:
    token = page.admission.sign_in_token
    response = page.render("sign_in.html", http_status=status, sign_in_token=token,
                           next=sessions.safe_next(field(page.request, "next", 500)),
                           error=page.admission.notice)
    sessions.set_cookie(response, page.request, sessions.SIGN_IN_COOKIE, token, 3600)
    return response


@page("POST", "/console/sign-out", kind=SIGN_OUT)
def signed_out(page: Page) -> Response:  # admission has answered already
    return redirect("/console/sign-in")


# ---- overview ------------------------------------------------------------------------------------


@page("GET", "/console/")
def home(page: Page) -> Response:
    try:
        pending = len(page.api.items("/v1/admin/applications", limit=500, status="submitted"))
        assortment = page.api.get("/v1/admin/catalog/assortment")
    except ApiProblem as problem:
        return page.problem(problem)
    return page.render("home.html", pending=pending, assortment=assortment)


# ---- applications ----------------------------------------------------------------------------------


@page("GET", "/console/applications")
def applications(page: Page) -> Response:
    status = field(page.request, "status") or "submitted"
    if status not in APPLICATION_STATUSES:
        status = "submitted"
    try:
        found = page.api.items("/v1/admin/applications", limit=500, status=status)
    except ApiProblem as problem:
        return page.problem(problem)
    return page.render("applications.html", applications=found, status=status,
                       statuses=APPLICATION_STATUSES, tiers=TIERS)


@page("POST", "/console/applications/<int:application_id>/approve", kind=FORM)
def approve_application(page: Page, application_id: int) -> Response:
    body: dict[str, Any] = {"tier": field(page.request, "tier")}
    radius = field(page.request, "service_radius_km")
    if radius:
        body["service_radius_km"] = radius if not radius.isdigit() else int(radius)
    try:
        approved = page.api.post(f"/v1/admin/applications/{application_id}/approve", body,
                                 idempotency_key=page.request.form.get("idempotency_key") or None)
    except ApiProblem as problem:
        return page.problem(problem)
    return page.render("approved.html", approved=approved, application_id=application_id)


@page("POST", "/console/applications/<int:application_id>/reject", kind=FORM)
def reject_application(page: Page, application_id: int) -> Response:
    return act(page, f"/v1/admin/applications/{application_id}/reject",
               {"reason": field(page.request, "reason", 500)}, "/console/applications", "rejected")


# ---- distributors ----------------------------------------------------------------------------------


def matches(distributor: dict, query: str) -> bool:
    """The search of the distributors page: a name's substring or a credit code's prefix, any case."""
    query = query.casefold()
    return query in distributor["company_name"].casefold() or distributor["credit_code"].casefold().startswith(query)


def location_points(distributors: list[dict], named: bool) -> list[maps.Point]:
    return [maps.Point(loc["lat"], loc["lon"], "location" if d["status"] == "active" else "distributor_inactive",
                       f"{d['company_name']} · {loc['name']}", named=named)
            for d in distributors for loc in d.get("locations", []) if loc.get("lat") is not None]


@page("GET", "/console/distributors")
def distributors(page: Page) -> Response:
    query, status = field(page.request, "q"), field(page.request, "status")
    try:
        found = page.api.items("/v1/admin/distributors",
                               status=status if status in DISTRIBUTOR_STATUSES else None)
    except ApiProblem as problem:
        return page.problem(problem)
    if query:
        found = [d for d in found if matches(d, query)]
    points = location_points(found, named=False)
    drawn = maps.draw(points, title=page.t("distributors.map_title"),
                      description=page.t("distributors.map_desc", n=len(points)), whole_country=True,
                      lang=page.lang, map_id="distributor-map")
    return page.render("distributors.html", distributors=found, q=query, status=status,
                       statuses=DISTRIBUTOR_STATUSES, map=drawn)


@page("GET", "/console/distributors/<int:distributor_id>")
def distributor(page: Page, distributor_id: int) -> Response:
    try:
        found = page.api.get(f"/v1/admin/distributors/{distributor_id}")
    except ApiProblem as problem:
        return page.problem(problem)
    points = [maps.Point(loc["lat"], loc["lon"], "location" if loc.get("active", True) else "location_inactive",
                         loc["name"], radius_km=loc.get("service_radius_km"), named=True)
              for loc in found.get("locations", [])]
    drawn = maps.draw(points, title=page.t("distributor.map_title", name=found["company_name"]),
                      description=page.t("distributor.map_desc", n=len(points)), lang=page.lang,
                      map_id="location-map")
    return page.render("distributor.html", d=found, map=drawn)


@page("POST", "/console/distributors/<int:distributor_id>/suspend", kind=FORM)
def suspend_distributor(page: Page, distributor_id: int) -> Response:
    return act(page, f"/v1/admin/distributors/{distributor_id}/suspend",
               {"reason": field(page.request, "reason", 500)}, f"/console/distributors/{distributor_id}",
               "suspended")


@page("POST", "/console/distributors/<int:distributor_id>/reinstate", kind=FORM)
def reinstate_distributor(page: Page, distributor_id: int) -> Response:
    reason = field(page.request, "reason", 500)
    return act(page, f"/v1/admin/distributors/{distributor_id}/reinstate", {"reason": reason} if reason else {},
               f"/console/distributors/{distributor_id}", "reinstated")


# ---- orders ----------------------------------------------------------------------------------------


@page("GET", "/console/orders")
def orders(page: Page) -> Response:
    filters = {"external_id": field(page.request, "external_id"), "channel": field(page.request, "channel"),
               "status": field(page.request, "status")}
    if filters["status"] not in ORDER_STATUSES:
        filters["status"] = ""
    try:
        found = page.api.get("/v1/admin/orders", limit=100, **filters)["items"]
    except ApiProblem as problem:
        if problem.status != 400:
            return page.problem(problem)
        return page.render("orders.html", orders=[], filters=filters, statuses=ORDER_STATUSES, invalid=problem)
    if filters["external_id"] and len(found) == 1:
        return redirect(f"/console/orders/{found[0]['id']}")
    return page.render("orders.html", orders=found, filters=filters, statuses=ORDER_STATUSES, invalid=None)


def destination(order: dict) -> tuple[float, float] | None:
    geocode, ship_to = order.get("geocode") or {}, order.get("ship_to") or {}
    for source in (geocode, ship_to):
        if source.get("lat") is not None and source.get("lon") is not None:
            return float(source["lat"]), float(source["lon"])
    return None


def routing_map(page: Page, order: dict) -> tuple[Markup | None, list[dict], dict[int, dict]]:
    """The last routing round on a map: customer, each candidate coloured by its reason, the chosen
    shipments as lines, each candidate's service radius. Returns (map, rounds, locations by id)."""
    rounds = order.get("explanation") or []
    ids = {c["distributor_id"] for r in rounds for c in r.get("candidates", [])}
    ids |= {s["distributor_id"] for s in order.get("shipments", [])}
    locations: dict[int, dict] = {}
    for distributor_id in sorted(ids):
        try:
            found = page.api.get(f"/v1/admin/distributors/{distributor_id}")
        except ApiProblem as problem:
            if problem.status == 404:
                continue
            raise
        for loc in found.get("locations", []):
            locations[loc["id"]] = {**loc, "company_name": found["company_name"]}
    customer = destination(order)
    if customer is None:
        return None, rounds, locations
    points = [maps.Point(customer[0], customer[1], "customer", page.t("order.customer"), named=True)]
    lines = []
    last = rounds[-1]["candidates"] if rounds else []
    for candidate in last:
        loc = locations.get(candidate["location_id"])
        if loc is None:
            continue
        kind = "chosen" if candidate.get("chosen") else candidate.get("reason", "farther")
        label = (f"{loc['company_name']} · {loc['name']} · {candidate['distance_km']} km · "
                 f"{i18n.label(page.lang, 'reason', kind)}")
        points.append(maps.Point(loc["lat"], loc["lon"], kind, label, radius_km=loc.get("service_radius_km"),
                                 named=bool(candidate.get("chosen"))))
    for shipment in order.get("shipments", []):
        loc = locations.get(shipment["location_id"])
        if loc is not None and shipment.get("status") not in ("rejected", "rerouted", "cancelled"):
            lines.append(maps.Line((loc["lat"], loc["lon"]), customer, "chosen"))
    drawn = maps.draw(points, lines, title=page.t("order.map_title", id=order["id"]),
                      description=page.t("order.map_desc", n=len(points) - 1), lang=page.lang,
                      map_id="routing-map")
    return drawn, rounds, locations


@page("GET", "/console/orders/<int:order_id>")
def order(page: Page, order_id: int) -> Response:
    try:
        found = page.api.get(f"/v1/admin/orders/{order_id}")
        drawn, rounds, locations = routing_map(page, found)
    except ApiProblem as problem:
        return page.problem(problem)
    kinds = sorted({"chosen" if c.get("chosen") else c.get("reason", "farther")
                    for c in (rounds[-1]["candidates"] if rounds else [])})
    return page.render("order.html", order=found, map=drawn, rounds=rounds, locations=locations,
                       legend=["customer", *kinds])


# ---- parity, assortment, prices --------------------------------------------------------------------


def violations_per_day(violations: list[dict], today: date, days: int = PARITY_DAYS) -> list[tuple[str, int]]:
    """(day, count) for each of the last ``days`` days (Asia/Shanghai), oldest first, zeros included."""
    shanghai = timedelta(hours=8)
    counts = Counter((datetime.fromisoformat(v["observed_at"]).astimezone(UTC) + shanghai).date()
                     for v in violations)
    return [((today - timedelta(days=n)).isoformat(), counts.get(today - timedelta(days=n), 0))
            for n in range(days - 1, -1, -1)]


@page("GET", "/console/parity")
def parity(page: Page) -> Response:
    now = datetime.now(UTC)
    since = (now - timedelta(days=PARITY_DAYS)).isoformat(timespec="seconds")
    try:
        violations = page.api.items("/v1/admin/parity/violations", since=since)
        flagged = [d for d in page.api.items("/v1/admin/distributors") if d.get("flagged_for_review")]
    except ApiProblem as problem:
        return page.problem(problem)
    per_day = violations_per_day(violations, (now + timedelta(hours=8)).date())
    chart = {"type": "bar", "labels": [d[5:] for d, _ in per_day],
             "datasets": [{"label": page.t("parity.violations"), "data": [n for _, n in per_day],
                           "backgroundColor": "#b3261e"}]}
    return page.render("parity.html", per_day=per_day, chart=chart, flagged=flagged,
                       recent=sorted(violations, key=lambda v: v["observed_at"], reverse=True)[:50])


@page("GET", "/console/assortment")
def assortment(page: Page) -> Response:
    try:
        mix = page.api.get("/v1/admin/catalog/assortment")
    except ApiProblem as problem:
        return page.problem(problem)
    target = float(mix["target_new_ratio"]) * 100
    actual = float(mix["new_ratio"]) * 100
    chart = {"type": "bar", "labels": [page.t("assortment.new"), page.t("assortment.classic")],
             "datasets": [
                 {"label": page.t("assortment.actual"), "data": [round(actual, 1), round(100 - actual, 1)],
                  "backgroundColor": "#1f5fbf"},
                 {"label": page.t("assortment.target"), "data": [round(target, 1), round(100 - target, 1)],
                  "backgroundColor": "#9aa5b1"}],
             "percent": True}
    return page.render("assortment.html", mix=mix, chart=chart, target=target, actual=actual)


@page("GET", "/console/prices")
def prices(page: Page) -> Response:
    sku = field(page.request, "sku", 64)
    found = retail = None
    missing = None
    if sku:
        try:
            found = page.api.get(f"/v1/admin/prices/{quote(sku, safe='')}")
            try:
                retail = page.api.get(f"/v1/admin/retail-prices/{quote(sku, safe='')}")
            except ApiProblem as problem:
                if problem.status != 404:
                    raise
        except ApiProblem as problem:
            if problem.status not in (400, 404):
                return page.problem(problem)
            missing = problem
    return page.render("prices.html", sku=sku, prices=found, retail=retail, missing=missing)


# ---- settlement --------------------------------------------------------------------------------------


@page("GET", "/console/settlement")
def settlement(page: Page) -> Response:
    period, distributor_id = field(page.request, "period", 7), field(page.request, "distributor_id", 18)
    try:
        found = page.api.get("/v1/admin/statements", limit=200, period=period, distributor_id=distributor_id)
    except ApiProblem as problem:
        if problem.status != 400:
            return page.problem(problem)
        return page.render("settlement.html", statements=[], period=period, distributor_id=distributor_id,
                           invalid=problem)
    return page.render("settlement.html", statements=found["items"], period=period,
                       distributor_id=distributor_id, invalid=None)


@page("GET", "/console/settlement/<int:distributor_id>/<period>")
def statement(page: Page, distributor_id: int, period: str) -> Response:
    try:
        found = page.api.get(f"/v1/admin/statements/{distributor_id}/{quote(period, safe='')}", limit=200)
    except ApiProblem as problem:
        return page.problem(problem)
    return page.render("statement.html", s=found)


@page("GET", "/console/settlement/<int:distributor_id>/<period>/csv")
def statement_csv(page: Page, distributor_id: int, period: str) -> Response:
    try:
        media, disposition, body = page.api.stream(
            f"/v1/admin/statements/{distributor_id}/{quote(period, safe='')}.csv?bom=true")  # for Excel
    except ApiProblem as problem:
        return page.problem(problem)
    return Response(body, status=200, content_type=media,
                    headers={"Content-Disposition": disposition} if disposition else None)


@page("POST", "/console/settlement/<int:distributor_id>/<period>/close", kind=FORM)
def close_statement(page: Page, distributor_id: int, period: str) -> Response:
    return act(page, f"/v1/admin/statements/{distributor_id}/{quote(period, safe='')}/close", None,
               f"/console/settlement/{distributor_id}/{period}", "closed")
