"""The gateway's JSON answers (orjson) read exactly as the standard library's would."""
import json

from hypothesis import given
from hypothesis import strategies as st

from gateway.http import json_response

# what services hand the gateway: JSON values as kombu decodes them (64-bit integers, as our ids are)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(json_values)
def test_an_answer_parses_to_what_the_service_returned(payload):
    response = json_response(200, payload)
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == payload


def test_an_answer_is_compact_utf8_and_numeric_keys_become_strings():
    response = json_response(201, {"name": "南京麻纺", "lines": [{"qty": 1}], 7: "seven"})
    assert response.status_code == 201
    assert response.get_data() == '{"name":"南京麻纺","lines":[{"qty":1}],"7":"seven"}'.encode()
