"""The gateway's one error table and the problem+json it renders."""
import json

import pytest
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService, deserialize, serialize

from catalog.errors import IllegalStatusChange, InvalidProduct, ProductExists, ProductNotFound
from common import errors as base
from gateway.errors import (
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
    register_remote_errors,
    status_for,
)
from gateway.problems import problem_from_exception


@pytest.mark.parametrize("exc,status", [
    (base.InvalidInput("x"), 400),
    (InvalidProduct("x"), 400),
    (Unauthenticated("x"), 401),
    (base.Forbidden("x"), 403),
    (ProductNotFound("x"), 404),
    (base.Conflict("x"), 409),
    (ProductExists("x"), 409),
    (IllegalStatusChange("x"), 409),
    (PayloadTooLarge("x"), 413),
    (base.Unprocessable("x"), 422),
    (TooManyRequests("x"), 429),
    (ServiceUnavailable("x"), 503),
    (RpcTimeout(), 503),
    (UnknownService("catalog"), 503),
    (RemoteError("KeyError", "boom"), 500),
    (ValueError("bug"), 500),
])
def test_each_error_maps_to_one_status(exc, status):
    assert status_for(exc) == status


def test_service_errors_cross_rpc_as_themselves_with_their_field_list():
    register_remote_errors()
    sent = InvalidProduct("products[3].sku: bad", [{"field": "products[3].sku", "message": "bad"}])
    received = deserialize(json.loads(json.dumps(serialize(sent))))
    assert type(received) is InvalidProduct
    assert received.detail == "products[3].sku: bad"
    assert received.errors == [{"field": "products[3].sku", "message": "bad"}]


def test_invalid_input_renders_problem_json_with_fields():
    response = problem_from_exception(
        base.InvalidInput("sku: bad", [{"field": "sku", "message": "bad"}]), "rid-1")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_data())
    assert body["status"] == 400 and body["title"] == "Invalid input"
    assert body["errors"] == [{"field": "sku", "message": "bad"}]
    assert body["type"].endswith("invalid-input") and body["request_id"] == "rid-1"


def test_an_unexpected_error_hides_its_details():
    response = problem_from_exception(RemoteError("KeyError", "secret internals"), "rid-2")
    body = json.loads(response.get_data())
    assert response.status_code == 500
    assert "secret" not in json.dumps(body) and "Traceback" not in json.dumps(body)
    assert body["request_id"] == "rid-2"
