"""The distributors service's input contracts: phones as people write them become E.164, every
number is finite, every string bounded and storable, every bad field named."""
import pytest

from common.errors import InvalidInput
from common.schemas import load
from distributors.schemas import (
    ApplicationQuerySchema,
    ApplicationSchema,
    ApproveSchema,
    ContactSchema,
    DistributorQuerySchema,
    LocationCreateSchema,
    LocationPatchSchema,
    ReasonSchema,
)

CONTACT = {"name": "Li Wei", "phone": "13812345678", "email": "li.wei@example.cn"}
APPLICATION = {
    "company_name": "Suzhou Cotton Trading Co.", "credit_code": "91350100M000100Y43",
    "contact": CONTACT, "address": "88 Renmin Rd", "province": "Jiangsu", "city": "Suzhou",
    "locations": [{"name": "Suzhou DC", "lat": 31.30, "lon": 120.58}],
    "requested_tier": "gold", "channels": ["offline_store", "tmall"],
}
LOCATION = {"name": "Hangzhou", "lat": 30.27, "lon": 120.15}


def fields_of(schema, payload) -> set[str]:
    with pytest.raises(InvalidInput) as caught:
        load(schema, payload)
    return {e["field"] for e in caught.value.errors}


@pytest.mark.parametrize("written,e164", [
    ("13800138000", "+8613800138000"),
    ("138 0013 8000", "+8613800138000"),
    ("138-0013-8000", "+8613800138000"),
    ("+86 138-0013-8000", "+8613800138000"),
    ("+8613800138000", "+8613800138000"),
    ("86 13800138000", "+8613800138000"),
    ("0086 138 0013 8000", "+8613800138000"),
    ("021-6288 1234", "+862162881234"),
    ("(021) 62881234", "+862162881234"),
    ("021-62881234", "+862162881234"),
    ("+86 21 6288 1234", "+862162881234"),
    ("+86 (21) 6288 1234", "+862162881234"),
    ("0571-8888 8888", "+8657188888888"),
    ("010 8888 8888", "+861088888888"),
    ("１３８００１３８０００", "+8613800138000"),  # full-width digits, as a Chinese IME types them
])
def test_phones_as_people_write_them_load_as_e164(written, e164):
    assert load(ContactSchema, {**CONTACT, "phone": written})["phone"] == e164
    assert load(ApplicationSchema, {**APPLICATION, "contact": {**CONTACT, "phone": written}})[
        "contact"]["phone"] == e164


@pytest.mark.parametrize("phone", [
    "12345", "1380013800", "138001380001", "23800138000", "+1 650 253 0000", "+44 20 7946 0958",
    "+852 2123 4567", "400-820-8820", "95588", "10086", "021-6288 1234 ext 5", "phone", "",
    "1" * 40, 13800138000, None, ["13800138000"],
])
def test_anything_but_a_chinese_mobile_or_landline_is_refused(phone):
    assert fields_of(ApplicationSchema, {**APPLICATION, "contact": {**CONTACT, "phone": phone}}) == {
        "contact.phone"}


@pytest.mark.parametrize("field,value", [
    ("lat", float("nan")), ("lat", float("inf")), ("lat", -float("inf")), ("lat", 90.5),
    ("lat", 10**400), ("lat", "31.2"), ("lat", True), ("lon", float("nan")), ("lon", 180.01),
    ("lon", float("inf")), ("lon", None), ("service_radius_km", float("nan")),
    ("service_radius_km", float("inf")), ("service_radius_km", 0), ("service_radius_km", 1000.1),
    ("service_radius_km", -5), ("name", "x" * 101), ("name", "  "), ("name", "DC\x00"),
    ("name", "DC \ud800"), ("address", "x" * 301), ("address", "a\x00"), ("active", "yes"),
])
def test_location_numbers_are_finite_and_strings_bounded(field, value):
    assert fields_of(LocationCreateSchema, {**LOCATION, field: value}) == {field}
    assert fields_of(LocationPatchSchema, {field: value}) == {field}
    if field != "active":
        body = {**APPLICATION, "locations": [{**LOCATION, field: value}]}
        assert fields_of(ApplicationSchema, body) == {f"locations[0].{field}"}


@pytest.mark.parametrize("field,value", [
    ("company_name", "x" * 201), ("company_name", "Co\x00"), ("company_name", ""),
    ("credit_code", "9" * 65), ("credit_code", "91350100M000100Y4\x00"), ("credit_code", ""),
    ("address", "x" * 301), ("province", "x" * 51), ("city", "x" * 51), ("city", "\ud800"),
    ("requested_tier", "diamond"), ("channels", []), ("channels", ["tmall", "ebay"]),
    ("locations", []), ("locations", [LOCATION] * 101), ("contact", "Li Wei"),
])
def test_application_fields_are_bounded(field, value):
    found = fields_of(ApplicationSchema, {**APPLICATION, field: value})
    assert found and all(f == field or f.startswith(f"{field}[") for f in found), found


@pytest.mark.parametrize("contact,field", [
    ({**CONTACT, "name": "x" * 101}, "contact.name"),
    ({**CONTACT, "name": "Li\x00"}, "contact.name"),
    ({**CONTACT, "email": "not-an-email"}, "contact.email"),
    ({**CONTACT, "email": "a@" + "b" * 250 + ".cn"}, "contact.email"),
    ({"name": "Li", "email": "a@b.cn"}, "contact.phone"),
])
def test_contact_fields_are_named(contact, field):
    assert field in fields_of(ApplicationSchema, {**APPLICATION, "contact": contact})


@pytest.mark.parametrize("schema,query,field", [
    (ApplicationQuerySchema, {"status": "pending"}, "status"),
    (ApplicationQuerySchema, {"province": "x" * 51}, "province"),
    (ApplicationQuerySchema, {"city": "a\x00"}, "city"),
    (ApplicationQuerySchema, {"limit": "501"}, "limit"),
    (DistributorQuerySchema, {"status": "gone"}, "status"),
    (DistributorQuerySchema, {"tier": "bronze"}, "tier"),
    (DistributorQuerySchema, {"city": ""}, "city"),
    (DistributorQuerySchema, {"province": "x" * 51}, "province"),
])
def test_list_filters_are_enums_or_bounded_text(schema, query, field):
    assert fields_of(schema, query) == {field}


def test_decisions_are_validated():
    assert fields_of(ApproveSchema, {"tier": "gold", "service_radius_km": float("nan")}) == {
        "service_radius_km"}
    assert fields_of(ApproveSchema, {}) == {"tier"}
    assert fields_of(ReasonSchema, {"reason": "x" * 501}) == {"reason"}
    assert fields_of(ReasonSchema, {"reason": "late\x00"}) == {"reason"}
