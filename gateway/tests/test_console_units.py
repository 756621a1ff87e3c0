"""The console's pure parts: sessions' sealing and tokens, safe redirects, both languages for every
word, the map data and drawing, the parity chart's days — no system needed."""
import pathlib
import re
from datetime import date

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.console import assets, i18n, maps, pages, routing, sessions

CONSOLE = pathlib.Path(pages.__file__).resolve().parent


def test_a_sealed_key_opens_only_with_its_session_id():
    sealed = sessions.seal("session-a", "dcm_" + "k" * 43)
    assert b"dcm_" not in sealed and len(sealed) == 47
    assert sessions.unseal("session-a", sealed) == "dcm_" + "k" * 43
    assert sessions.seal("session-b", "dcm_" + "k" * 43) != sealed


def test_the_csrf_token_is_per_session_and_checked():
    token = sessions.csrf_token("one")
    assert token != sessions.csrf_token("two") and len(token) == 64
    request = Request(EnvironBuilder(method="POST", data={"csrf_token": token}).get_environ())
    assert sessions.form_token_ok(request, token)
    assert not sessions.form_token_ok(request, sessions.csrf_token("two"))
    assert not sessions.form_token_ok(Request(EnvironBuilder(method="POST", data={}).get_environ()), token)


@pytest.mark.parametrize("target,expected", [
    ("/console/orders?x=1", "/console/orders?x=1"), ("https://evil.example/", "/console/"),
    ("//evil.example", "/console/"), ("/console//evil.example", "/console/"), ("/v1/admin/orders", "/console/"),
    ("/console/\r\nSet-Cookie: x", "/console/"), (None, "/console/"),
])
def test_only_console_addresses_are_returned_to(target, expected):
    assert sessions.safe_next(target) == expected


def test_every_word_a_template_or_page_uses_is_there_in_both_languages():
    used = set()
    for path in [*CONSOLE.glob("templates/*.html"), CONSOLE / "pages.py"]:
        used |= set(re.findall(r"""\bt\(["']([a-z_]+\.[a-z_.]+)["']""", path.read_text()))
    used |= {"sign_in.bad_key", "sign_in.wrong_role", "role.manager", "role.sales"}
    assert used - set(i18n.MESSAGES) == set()
    for key, (zh, en) in i18n.MESSAGES.items():
        assert zh and en, key
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key


def test_every_routing_reason_has_a_colour_and_a_name():
    from fulfillment.schemas import CandidateSchema

    reasons = set(re.findall(r"[a-z_]{4,}", CandidateSchema._declared_fields["reason"].metadata["description"]))
    reasons -= {"chosen", "why", "not"}
    for reason in reasons | {"chosen", "customer"}:
        assert reason in maps.COLOURS, reason
        assert i18n.label("zh", "reason", reason) != reason, reason


def test_the_province_outlines_decode_to_china():
    provinces = maps.provinces()
    assert len(provinces) == 34
    by_name = {p.name: p for p in provinces}
    assert set(maps.PROVINCES_EN) == set(by_name)
    for p in provinces:
        lons = [lon for ring in p.rings for lon, _ in ring]
        lats = [lat for ring in p.rings for _, lat in ring]
        assert 73 <= min(lons) and max(lons) <= 136 and 17 <= min(lats) and max(lats) <= 54, p.name
    beijing = by_name["北京"]
    assert 115.4 < beijing.centre[0] < 117.5 and 39.4 < beijing.centre[1] < 41.1
    svg = maps.outline_svg().decode()
    assert svg.count("<path ") == 34 and 'id="provinces"' in svg


def test_a_local_map_keeps_its_circles_round_and_names_each_point():
    drawn = str(maps.draw([maps.Point(31.23, 121.47, "customer", "顾客 <x>", named=True),
                           maps.Point(31.30, 121.50, "chosen", "DC", radius_km=50)],
                          [maps.Line((31.30, 121.50), (31.23, 121.47), "chosen")],
                          title="t", description="d", map_id="m"))
    assert "顾客 &lt;x&gt;" in drawn and "<x>" not in drawn
    rx, ry = map(float, re.search(r'rx="([\d.]+)" ry="([\d.]+)"', drawn).groups())
    assert ry == pytest.approx(50 / maps.KM_PER_DEGREE, rel=1e-4) and rx == pytest.approx(ry, rel=0.01)
    assert drawn.count('class="point') == 2 and drawn.count("<line") == 1
    assert maps.OUTLINE_URL in drawn


def test_violations_are_counted_per_day_in_beijing_time_with_empty_days():
    days = pages.violations_per_day([{"observed_at": "2026-03-09T17:00:00+00:00"},   # 10 March in Beijing
                                     {"observed_at": "2026-03-10T01:00:00+08:00"},
                                     {"observed_at": "2026-03-08T12:00:00+08:00"}], date(2026, 3, 10), days=3)
    assert days == [("2026-03-08", 1), ("2026-03-09", 0), ("2026-03-10", 2)]


def test_distributors_are_found_by_name_or_credit_code():
    d = {"company_name": "成都棉语家纺有限公司", "credit_code": "91510100MA61234567"}
    assert pages.matches(d, "棉语") and pages.matches(d, "91510100") and pages.matches(d, "91510100ma6")
    assert not pages.matches(d, "1234567") and not pages.matches(d, "杭州")


def test_every_asset_is_local_and_versioned():
    for name in [*assets.FILES, *assets.GENERATED]:
        assert assets.serve(name).status_code == 200
        assert re.fullmatch(rf"/console/assets/{re.escape(name)}\?v=[0-9a-f]{{12}}", assets.url(name))
    assert assets.serve("../service.py").status_code == 404
    for path in CONSOLE.glob("templates/*.html"):
        assert not re.search(r"""(src|href)=["']https?://""", path.read_text()), path.name


def test_pages_are_declared_once_and_none_is_an_api_route():
    from gateway.http import ROUTES

    assert len({(p.method, p.path) for p in routing.PAGES}) == len(routing.PAGES)
    assert all(p.path.startswith("/console/") for p in routing.PAGES)
    assert not [r for r in ROUTES if r.path.startswith("/console")]


def test_the_api_is_reached_on_the_gateways_own_address():
    assert routing.loopback_url({"WEB_SERVER_ADDRESS": "0.0.0.0:8000"}) == "http://127.0.0.1:8000"
    assert routing.loopback_url({"WEB_SERVER_ADDRESS": "127.0.0.1:9000"}) == "http://127.0.0.1:9000"
    assert routing.loopback_url({"CONSOLE_API_URL": "http://gw:80"}) == "http://gw:80"
