"""The whole system as processes, started exactly as `make run` starts it (deploy/start-service),
on fresh databases and a fresh RabbitMQ vhost, and an HTTP client for the gateway."""
import pathlib
import re
import uuid

import pytest
import requests
from openapi_schema_validator import OAS30Validator, validate

from common.testing import System, running_system  # noqa: F401 (System: for the tests' types)

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def system(pg_server, rabbit, tmp_path_factory):
    with running_system(pg_server, rabbit, tmp_path_factory.mktemp("logs")) as sysm:
        yield sysm


class Contract:
    """The gateway's own /openapi.json: every JSON answer a test gets is checked against what the
    document says that route answers with that status, so the document cannot drift from the API."""

    def __init__(self, document: dict):
        self.components = document["components"]
        self.routes = []
        for template, operations in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")
            for method, operation in operations.items():
                self.routes.append((method.upper(), pattern, template.count("{"), operation))
        self.routes.sort(key=lambda r: r[2])  # literal segments win over {params}

    def check(self, method: str, path: str, response: requests.Response) -> None:
        media = response.headers.get("Content-Type", "").split(";")[0]
        if media not in ("application/json", "application/problem+json"):
            return
        operation = next((op for m, pattern, _, op in self.routes if m == method and pattern.match(path)),
                         None)
        if operation is None:
            return  # an unknown path or method: its 404/405 problem is checked by the contract tests
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, f"{method} {path}: status {response.status_code} is not documented"
        schema = documented.get("content", {}).get(media, {}).get("schema")
        assert schema is not None, f"{method} {path}: {response.status_code} {media} is not documented"
        validate(response.json(), {**schema, "components": self.components}, cls=OAS30Validator)


CONTRACT: list[Contract] = []  # set once the system is up


class Client:
    """requests with a base URL and a bearer key; every answer is checked against the OpenAPI
    document (``Contract``)."""

    def __init__(self, base_url: str, key: str | None):
        self.base_url = base_url
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        response = self.session.request(method, self.base_url + path, **kwargs)
        if CONTRACT:
            CONTRACT[0].check(method, path.split("?", 1)[0], response)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def onboard_distributor(base_url: str, manager_key: str, application: dict, tier: str = "gold") -> dict:
    """Apply and approve through the API; returns the approval (distributor_id, api_key)."""
    receipt = requests.post(f"{base_url}/v1/applications", json=application, timeout=30)
    receipt.raise_for_status()
    approved = requests.post(f"{base_url}/v1/admin/applications/{receipt.json()['id']}/approve",
                             json={"tier": tier}, timeout=30,
                             headers={"Authorization": f"Bearer {manager_key}"})
    approved.raise_for_status()
    return approved.json()


SHANGHAI_DISTRIBUTOR = {
    "company_name": "Shanghai Cotton Home Ltd", "credit_code": "91350100M000100Y43",
    "contact": {"name": "Zhang Min", "phone": "13800001111", "email": "zhang@sh-cotton.cn"},
    "address": "100 Nanjing Rd", "province": "Shanghai", "city": "Shanghai",
    "locations": [{"name": "Shanghai DC", "lat": 31.23, "lon": 121.47}],
    "requested_tier": "gold", "channels": ["offline_store", "tmall"],
}


@pytest.fixture(scope="session")
def keys(system):
    manager = system.issue_key("manager")
    approved = onboard_distributor(system.base_url, manager, SHANGHAI_DISTRIBUTOR)
    return {
        "manager": manager,
        "sales": system.issue_key("sales"),
        "channel": system.issue_key("channel", channel="tmall"),
        "distributor": approved["api_key"],
    }


@pytest.fixture(scope="session")
def client(system, keys):
    """A client for each role, and ``anonymous``; their answers are checked against /openapi.json."""
    if not CONTRACT:
        CONTRACT.append(Contract(requests.get(f"{system.base_url}/openapi.json", timeout=30).json()))
    clients = {role: Client(system.base_url, key) for role, key in keys.items()}
    clients["anonymous"] = Client(system.base_url, None)
    return clients


@pytest.fixture
def uniq():
    """A prefix that keeps each test's SKUs apart in the shared e2e database."""
    return f"T{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
def skus(client, uniq):
    """Two active products priced 100.00 and 110.00."""
    made = [f"{uniq}-A", f"{uniq}-B"]
    for i, sku in enumerate(made):
        r = client["sales"].post("/v1/admin/products", json={
            "sku": sku, "name": sku, "category": "towels", "lifecycle": "classic", "status": "active"})
        assert r.status_code == 201, r.text
        r = client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": f"{100 + i * 10}.00",
                                                                   "floor_price": "50.00"})
        assert r.status_code == 200, r.text
    return made
