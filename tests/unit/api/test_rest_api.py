"""The REST API (issue 22) through the real app: tokens made with the CLI, scopes, the one
error shape, cursor pages, rate limits, audit entries, and the OpenAPI document, which
validates and describes what the routes really answer."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select
from starlette.testclient import TestClient
from support.clock import FakeClock
from support.delivery import outbox
from support.env import SAMPLE_ISSUE
from typer.testing import CliRunner

from newsletter.cli.main import app as cli_app
from newsletter.errors import TransientTransportError
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database
from newsletter.store.desk import DeskStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables_api import api_tokens
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
CONSENT = {"text": "Yes, send me the daily digest", "obtained_at": "2026-02-27T10:00:00Z",
           "method": "signed paper form at the lab open day"}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    issues = tmp_path / "issues"
    issues.mkdir()
    shutil.copy(SAMPLE_ISSUE, issues / SAMPLE_ISSUE.name)
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(issues))
    db = open_database(get_settings().database_url)
    yield db
    db.close()


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(get_settings(), db=db, transport=OutboxTransport(tmp_path / "outbox"),
                     clock=FakeClock(START))
    with TestClient(app) as client:
        yield client


def make_token(name: str, scope: str) -> str:
    result = CliRunner().invoke(cli_app, ["api-token", "create", name, "--scope", scope])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status and body["error"]["code"] == code
    assert body["error"]["message"]


def schema_check(client: TestClient) -> Any:
    """Validates a value against a schema of the served OpenAPI document."""
    spec = client.get("/api/v1/openapi.json").json()
    registry: Registry[Any] = Registry().with_resource(
        "urn:spec", DRAFT202012.create_resource(spec))

    def check(value: Any, name: str) -> None:
        schema = {"$ref": f"urn:spec#/components/schemas/{name}"}
        Draft202012Validator(schema, registry=registry).validate(value)

    return check


def test_the_token_is_printed_alone_on_the_last_line_and_stored_hashed(db: Database) -> None:
    token = make_token("crm", "read")
    assert token.startswith("nl_") and " " not in token and len(token) > 40
    with db.engine.connect() as conn:
        row = conn.execute(select(api_tokens)).one()
    assert token not in {str(v) for v in row}
    assert row.scope == "read"
    again = CliRunner().invoke(cli_app, ["api-token", "create", "crm"])
    assert again.exit_code == 1 and "exists already" in again.output
    bad = CliRunner().invoke(cli_app, ["api-token", "create", "x", "--scope", "admin"])
    assert bad.exit_code == 2 and "read or write" in bad.output


def test_no_token_or_a_bad_or_revoked_one_gets_401(client: TestClient) -> None:
    response = client.get("/api/v1/subscribers")
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_error(client.get("/api/v1/subscribers", headers=auth("nl_made-up")), 401,
                 "unauthorized")
    assert_error(client.get("/api/v1/subscribers", headers={"Authorization": "Basic eA=="}),
                 401, "unauthorized")
    token = make_token("leaving", "write")
    assert client.get("/api/v1/subscribers", headers=auth(token)).status_code == 200
    revoked = CliRunner().invoke(cli_app, ["api-token", "revoke", "leaving"])
    assert revoked.exit_code == 0, revoked.output
    assert_error(client.get("/api/v1/subscribers", headers=auth(token)), 401, "unauthorized")
    listed = CliRunner().invoke(cli_app, ["api-token", "list"])
    assert listed.output.split()[:2] == ["leaving", "write"] and "revoked" in listed.output
    assert "last used 20" in listed.output  # its one use is recorded


def test_a_read_token_reads_but_cannot_write(client: TestClient, db: Database) -> None:
    reader = SubscriberStore(db).add("a@example.org", status="active")
    read = auth(make_token("dashboard", "read"))
    assert client.get(f"/api/v1/subscribers/{reader.id}", headers=read).status_code == 200
    for method, path, body in [
        ("POST", "/api/v1/subscribers", {"email": "b@example.org"}),
        ("PATCH", f"/api/v1/subscribers/{reader.id}", {"language": "en"}),
        ("POST", f"/api/v1/subscribers/{reader.id}/unsubscribe", None),
        ("DELETE", f"/api/v1/subscribers/{reader.id}", None),
    ]:
        response = client.request(method, path, json=body, headers=read)
        assert_error(response, 403, "forbidden")
    after = SubscriberStore(db).get(reader.id)
    assert after is not None and after.status == "active" and after.language == "both"
    assert SubscriberStore(db).find("b@example.org") is None


def test_creating_a_pending_reader_mails_a_confirmation(
    client: TestClient, db: Database, tmp_path: Path,
) -> None:
    write = auth(make_token("crm", "write"))
    response = client.post("/api/v1/subscribers", headers=write,
                           json={"email": "New@Example.org", "language": "en",
                                 "categories": ["LG"]})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["result"] == "sent"
    assert body["subscriber"]["email"] == "new@example.org"
    assert body["subscriber"]["status"] == "pending"
    assert body["subscriber"]["source"] == "api"
    [confirmation] = outbox(tmp_path / "outbox")
    assert confirmation["To"] == "new@example.org"
    schema_check(client)(body["subscriber"], "Subscriber")
    [entry] = DeskStore(db).audit_entries()
    assert (entry.actor, entry.action, entry.target) == ("api:crm", "add subscriber",
                                                         "new@example.org")


def test_confirmed_readers_need_a_consent_record(client: TestClient, db: Database) -> None:
    write = auth(make_token("crm", "write"))
    assert_error(client.post("/api/v1/subscribers", headers=write,
                             json={"email": "c@example.org", "status": "active"}),
                 422, "consent_required")
    assert_error(client.post("/api/v1/subscribers", headers=write, json={
        "email": "c@example.org", "status": "active",
        "consent": {**CONSENT, "obtained_at": "yesterday"}}), 422, "invalid")
    assert SubscriberStore(db).find("c@example.org") is None
    response = client.post("/api/v1/subscribers", headers=write,
                           json={"email": "c@example.org", "status": "active",
                                 "consent": CONSENT})
    assert response.status_code == 201, response.text
    reader = SubscriberStore(db).find("c@example.org")
    assert reader is not None and reader.status == "active"
    [created] = SubscriberStore(db).events(reader.id)
    assert "signed paper form" in created.reason and "api:crm" in created.reason
    assert_error(client.post("/api/v1/subscribers", headers=write, json={
        "email": "c@example.org", "status": "active", "consent": CONSENT}), 409, "exists")


def test_bad_bodies_get_the_one_error_shape(client: TestClient) -> None:
    write = auth(make_token("crm", "write"))
    assert_error(client.post("/api/v1/subscribers", headers=write, content=b"{nope"),
                 400, "invalid_json")
    assert_error(client.post("/api/v1/subscribers", headers=write, json=["x"]),
                 400, "invalid_json")
    assert_error(client.post("/api/v1/subscribers", headers=write, json={"email": "nope"}),
                 422, "invalid")
    assert_error(client.post("/api/v1/subscribers", headers=write,
                             json={"email": "d@example.org", "categories": ["ZZ"]}),
                 422, "invalid")
    assert_error(client.get("/api/v1/subscribers/999", headers=write), 404, "not_found")
    assert_error(client.get("/api/v1/nothing-here", headers=write), 404, "not_found")
    assert_error(client.put("/api/v1/subscribers", headers=write), 405, "method_not_allowed")
    assert_error(client.get("/api/v1/subscribers?cursor=%%%", headers=write), 400,
                 "invalid_cursor")
    assert_error(client.get("/api/v1/subscribers?limit=0", headers=write), 400, "invalid")


def test_search_pages_through_every_reader_once(client: TestClient, db: Database) -> None:
    store = SubscriberStore(db)
    added = {store.add(f"r{n}@example.org", status="active").email for n in range(7)}
    store.add("other@example.net", status="pending")
    read = auth(make_token("dashboard", "read"))
    seen: list[str] = []
    url = "/api/v1/subscribers?limit=3&status=active"
    while url:
        page = client.get(url, headers=read).json()
        seen += [r["email"] for r in page["data"]]
        url = (f"/api/v1/subscribers?limit=3&status=active&cursor={page['next_cursor']}"
               if page["next_cursor"] else "")
    assert sorted(seen) == sorted(added)
    found = client.get("/api/v1/subscribers?q=other", headers=read).json()
    assert [r["email"] for r in found["data"]] == ["other@example.net"]
    assert found["next_cursor"] is None


def test_change_unsubscribe_and_erase(client: TestClient, db: Database) -> None:
    store = SubscriberStore(db)
    reader = store.add("e@example.org", status="active")
    write = auth(make_token("crm", "write"))
    changed = client.patch(f"/api/v1/subscribers/{reader.id}", headers=write,
                           json={"language": "zh", "categories": ["CV"]})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["language"], changed.json()["categories"]) == ("zh", ["CV"])
    left = client.post(f"/api/v1/subscribers/{reader.id}/unsubscribe", headers=write)
    assert left.json()["status"] == "unsubscribed"
    assert store.is_suppressed("e@example.org")
    erased = client.delete(f"/api/v1/subscribers/{reader.id}", headers=write)
    assert erased.status_code == 204
    assert store.get(reader.id) is None
    assert store.suppression("e@example.org") is not None  # the hash still blocks it
    actions = [(e.action, e.target) for e in reversed(DeskStore(db).audit_entries())]
    assert actions == [("change preferences", "e@example.org"),
                       ("unsubscribe", "e@example.org"), ("erase subscriber", f"#{reader.id}")]


def test_campaigns_and_issues(client: TestClient, db: Database) -> None:
    store = SubscriberStore(db)
    for n in range(3):
        store.add(f"s{n}@example.org", status="active")
    CampaignStore(db).start("2022-09-07", str(SAMPLE_ISSUE), [])
    read = auth(make_token("dashboard", "read"))
    page = client.get("/api/v1/campaigns", headers=read).json()
    [campaign] = page["data"]
    assert campaign["issue_date"] == "2022-09-07" and page["next_cursor"] is None
    one = client.get("/api/v1/campaigns/2022-09-07", headers=read).json()
    assert one["counts"]["queued"] == 3 and one["total"] == 3
    assert client.get(f"/api/v1/campaigns/{one['id']}", headers=read).json() == one
    check = schema_check(client)
    check(one, "Campaign")
    issues = client.get("/api/v1/issues", headers=read).json()
    assert issues["data"] == [{"date": "2022-09-07", "sent": False, "url": None}]
    issue = client.get("/api/v1/issues/2022-09-07", headers=read).json()
    assert issue["valid"] is True and issue["papers"]
    check(issue, "Issue")
    assert_error(client.get("/api/v1/issues/2022-09-08", headers=read), 404, "not_found")
    assert_error(client.get("/api/v1/issues/..%2F..%2Fetc", headers=read), 404, "not_found")


def test_each_token_has_its_own_rate_limit(db: Database, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_API_RATE_LIMIT", "3")
    app = create_app(get_settings(), db=db, transport=OutboxTransport(tmp_path / "outbox"))
    busy, calm = auth(make_token("busy", "read")), auth(make_token("calm", "read"))
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/api/v1/issues", headers=busy).status_code == 200
        limited = client.get("/api/v1/issues", headers=busy)
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert client.get("/api/v1/issues", headers=calm).status_code == 200


def test_the_openapi_document_validates_and_names_every_route(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["servers"] == [{"url": "https://news.example.org/api/v1"}]
    mounted = next(r for r in client.app.routes  # type: ignore[attr-defined]
                   if getattr(r, "path", "") == "/api/v1")
    served = {route.path for route in mounted.routes}
    assert served == set(spec["paths"])
    error = client.get("/api/v1/subscribers").json()
    schema_check(client)(error, "Error")


class Refusing:
    name = "refusing"

    def send(self, raw: bytes, to: str) -> str:
        raise TransientTransportError("SES is not answering")


def test_a_failed_confirmation_email_is_a_json_502(db: Database) -> None:
    app = create_app(get_settings(), db=db, transport=Refusing())  # type: ignore[arg-type]
    write = auth(make_token("crm", "write"))
    with TestClient(app) as client:
        response = client.post("/api/v1/subscribers", headers=write,
                               json={"email": "f@example.org"})
    assert_error(response, 502, "mail_failed")
    assert "SES is not answering" in response.json()["error"]["message"]
