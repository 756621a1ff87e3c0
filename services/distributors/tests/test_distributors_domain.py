"""Distributor rules on plain values: the GB 32100-2015 check, screening and both state machines."""
from datetime import UTC, datetime

import pytest

from distributors import domain
from distributors.errors import CreditCodeTaken, DistributorNotActive, IllegalTransition, InvalidApplication

NOW = datetime(2026, 11, 22, tzinfo=UTC)

# unified social credit codes published by well-known companies on their sites and licences
PUBLISHED = [
    "91350100M000100Y43",  # the standard's own worked example
    "91110000802100433B",
    "9144030071526726XG",
    "91330100799655058B",
    "91440300708461136T",
    "91110108551385082Q",
    "914403001922038216",
    "91110000710935732K",
]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_pass(code):
    assert domain.credit_code_problem(code) is None


@pytest.mark.parametrize("code", PUBLISHED)
def test_every_single_character_corruption_is_caught(code):
    """Mod 31 with these weights detects any one changed character."""
    for position in range(18):
        for replacement in domain.CREDIT_CODE_ALPHABET:
            if replacement == code[position]:
                continue
            corrupted = code[:position] + replacement + code[position + 1:]
            assert domain.credit_code_problem(corrupted) is not None, corrupted


@pytest.mark.parametrize("code,problem", [
    ("91350100M000100Y4", "must be 18 characters"),
    ("91350100M000100Y433", "must be 18 characters"),
    ("91350100M0001O0Y43", "alphabet"),  # letter O is not in the alphabet
    ("91350100I000100Y43", "alphabet"),
    ("91350100m000100Y43", "alphabet"),
    ("91350100M000100Y44", "check character"),
])
def test_malformed_codes_are_explained(code, problem):
    assert problem in domain.credit_code_problem(code)


def test_the_check_character_completes_a_code():
    assert domain.credit_code_check_character("91350100M000100Y4") == "3"


def test_a_code_is_compared_as_written_on_the_licence():
    assert domain.normalize_credit_code("  91350100m000100y43 ") == "91350100M000100Y43"


def test_a_code_has_one_live_holder():
    domain.require_free_credit_code(PUBLISHED[0], None)
    with pytest.raises(CreditCodeTaken, match="already held by distributor 4") as caught:
        domain.require_free_credit_code(PUBLISHED[0], "distributor 4")
    assert [e["field"] for e in caught.value.errors] == ["credit_code"]


def test_a_location_lies_in_china():
    domain.check_coordinates(31.23, 121.47)
    with pytest.raises(InvalidApplication) as caught:
        domain.check_coordinates(1.35, 139.69)
    assert [e["field"] for e in caught.value.errors] == ["lat", "lon"]


def application(**overrides):
    fields = {"credit_code": PUBLISHED[0], "locations": [{"name": "Shanghai DC", "lat": 31.23,
                                                          "lon": 121.47}]}
    fields.update(overrides)
    return fields


def test_screening_names_each_bad_field():
    with pytest.raises(InvalidApplication) as caught:
        domain.screen_application(application(credit_code="91350100M000100Y44", locations=[
            {"name": "ok", "lat": 39.9, "lon": 116.4},
            {"name": "Tokyo", "lat": 35.68, "lon": 139.69},
            {"name": "Singapore", "lat": 1.35, "lon": 103.8}]))
    assert [e["field"] for e in caught.value.errors] == [
        "credit_code", "locations[1].lon", "locations[2].lat"]


def test_screening_accepts_the_borders_of_china():
    domain.screen_application(application(locations=[{"name": "a", "lat": 18.0, "lon": 73.0},
                                                     {"name": "b", "lat": 54.0, "lon": 135.0}]))


def test_an_application_is_decided_once():
    assert domain.decide_application("submitted", "approved") == "approved"
    assert domain.decide_application("submitted", "rejected") == "rejected"
    for decided in ("approved", "rejected"):
        with pytest.raises(IllegalTransition):
            domain.decide_application(decided, "approved")


def distributor(status="active", tier="gold"):
    return domain.Distributor(7, "Acme", PUBLISHED[0], tier, status, "Shanghai", "Shanghai")


LEGAL = [("suspend", "active", "suspended"), ("reinstate", "suspended", "active"),
         ("terminate", "active", "terminated"), ("terminate", "suspended", "terminated")]
ILLEGAL = [(action, status) for action in domain.TRANSITIONS
           for status in ("active", "suspended", "terminated")
           if (action, status) not in {(a, s) for a, s, _ in LEGAL}]


@pytest.mark.parametrize("action,start,end", LEGAL)
def test_legal_transitions_are_recorded(action, start, end):
    changed, entry = domain.transition(distributor(start), action, "manager:1", "late payments", NOW)
    assert changed.status == end
    assert (entry.kind, entry.from_, entry.to, entry.actor, entry.at) == (
        "status", start, end, "manager:1", NOW)


@pytest.mark.parametrize("action,start", ILLEGAL)
def test_illegal_transitions_are_conflicts(action, start):
    with pytest.raises(IllegalTransition):
        domain.transition(distributor(start), action, "manager:1", "why", NOW)


@pytest.mark.parametrize("action", ["suspend", "terminate"])
def test_suspending_or_terminating_needs_a_reason(action):
    with pytest.raises(InvalidApplication):
        domain.transition(distributor(), action, "manager:1", None, NOW)


def test_tier_changes_are_recorded_and_a_no_op_is_not():
    same, entry = domain.change_tier(distributor(tier="gold"), "gold", "m", NOW)
    assert entry is None
    changed, entry = domain.change_tier(distributor(tier="gold"), "platinum", "m", NOW)
    assert changed.tier == "platinum" and (entry.kind, entry.from_, entry.to) == ("tier", "gold",
                                                                                   "platinum")
    with pytest.raises(IllegalTransition):
        domain.change_tier(distributor("terminated"), "platinum", "m", NOW)


@pytest.mark.parametrize("status,may", [("active", True), ("suspended", False), ("terminated", False)])
def test_only_an_active_distributor_may_change_things(status, may):
    if may:
        domain.require_active(distributor(status))
    else:
        with pytest.raises(DistributorNotActive):
            domain.require_active(distributor(status))


@pytest.mark.parametrize("own,approval,expected", [(10.0, 80.0, 10.0), (None, 80.0, 80.0),
                                                    (None, None, 50.0)])
def test_location_radius_defaults(own, approval, expected):
    assert domain.location_radius(own, approval) == expected


def submitted(**overrides) -> domain.Application:
    fields = dict(id=3, status="submitted", company_name="Acme", credit_code=PUBLISHED[0],
                  contact={"name": "Li"}, address="1 Rd", province="Shanghai", city="Shanghai",
                  locations=({"name": "DC", "lat": 31.2, "lon": 121.5},
                             {"name": "Shop", "lat": 31.3, "lon": 121.4, "service_radius_km": 5.0}),
                  requested_tier="gold", channels=("tmall",), submitted_at=NOW,
                  status_token_hash=domain.hash_status_token("s3cret"))
    fields.update(overrides)
    return domain.Application(**fields)


def test_only_the_token_handed_out_opens_the_applicants_view():
    assert domain.status_token_matches(submitted(), "s3cret")
    for wrong in ("S3cret", "", None):
        assert not domain.status_token_matches(submitted(), wrong)
    assert not domain.status_token_matches(submitted(status_token_hash=None), "s3cret")
    assert domain.hash_status_token("s3cret") != "s3cret"  # only the hash is kept


def test_approval_gives_each_location_its_radius_and_starts_the_history():
    assert [loc["service_radius_km"] for loc in domain.approved_locations(submitted(), 80.0)] == [80.0, 5.0]
    assert [loc["service_radius_km"] for loc in domain.approved_locations(submitted(), None)] == [50.0, 5.0]
    assert domain.approved_locations(submitted(), None)[0] == {
        "name": "DC", "lat": 31.2, "lon": 121.5, "service_radius_km": 50.0,
        "geocode": {"precision": "given", "adcode": None, "province": None, "city": None, "district": None,
                    "lat": 31.2, "lon": 121.5}}  # submitted before addresses were placed: coordinates given
    assert domain.approval_transition(3, "manager:1", NOW) == domain.Transition(
        "status", None, "active", "manager:1", NOW, "application 3 approved")


# ---- places from addresses ----------------------------------------------------------------------


def test_a_location_without_coordinates_is_placed_at_its_address_division():
    placed, problems = domain.placed({"name": "仓", "address": "湖北省武汉市江夏区文化大道1号"}, "locations[0].")
    assert problems == []
    assert (placed["geocode"]["precision"], placed["geocode"]["adcode"]) == ("district", "420115")
    assert (placed["lat"], placed["lon"]) == (placed["geocode"]["lat"], placed["geocode"]["lon"])


def test_a_location_with_neither_is_placed_at_the_applications_address():
    application = {"address": "杭州市西湖区文三路90号", "province": "浙江省", "city": "杭州市"}
    placed, problems = domain.placed({"name": "仓"}, "locations[1].", fallback=application)
    assert problems == [] and placed["geocode"]["adcode"] == "330106"


def test_screening_names_a_location_that_cannot_be_placed():
    fields = {"credit_code": "91330106MA27XL0G3W", "address": "x", "province": "x", "city": "x",
              "locations": [{"name": "a", "lat": 30.0, "lon": 120.0}, {"name": "b", "address": "鼓楼区中山路1号"}]}
    with pytest.raises(InvalidApplication) as refused:
        domain.screen_application(fields)
    fields_named = [e["field"] for e in refused.value.errors]
    assert "locations[1].address" in fields_named
    [ambiguous] = [e for e in refused.value.errors if e["field"] == "locations[1].address"]
    assert len(ambiguous["candidates"]) >= 4  # 鼓楼区: 南京, 徐州, 福州, 开封


def test_a_moved_address_re_places_only_a_location_placed_from_its_address():
    by_address = domain.Location(1, 1, "a", "x", 30.0, 120.0, 50.0, True, NOW,
                                 {"precision": "district", "lat": 30.0, "lon": 120.0})
    by_coordinates = domain.Location(1, 1, "a", "x", 30.0, 120.0, 50.0, True, NOW, None)
    moved = domain.moved_location(by_address, {"address": "湖北省武汉市江夏区文化大道1号"})
    assert moved["geocode"]["adcode"] == "420115" and moved["lat"] != 30.0
    assert domain.moved_location(by_coordinates, {"address": "湖北省武汉市江夏区文化大道1号"}) == {
        "address": "湖北省武汉市江夏区文化大道1号"}
    assert domain.moved_location(by_address, {"lat": 31.0})["geocode"]["precision"] == "given"
