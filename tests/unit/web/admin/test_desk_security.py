"""The desk's doors: sessions, CSRF, sign-in links, cookies, no enumeration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Route
from support.desk import EDITOR, DeskSite, desk_site, form_token

from newsletter import wiring
from newsletter.settings import get_settings
from newsletter.store.db import Database
from newsletter.web.admin.guard import PUBLIC_PREFIXES, SESSION_COOKIE


@pytest.fixture
def desk(db: Database, tmp_path: Path) -> Iterator[DeskSite]:
    with desk_site(get_settings(), db, tmp_path / "outbox") as site:
        yield site


def desk_routes(desk: DeskSite) -> list[tuple[str, str]]:
    """Every (method, path) of the desk, read from its router with sample path values."""
    from newsletter.web.admin.routes import desk_router

    settings = get_settings().model_copy(update={"editors": [EDITOR]})
    from newsletter.web.admin.parts import Desk
    from newsletter.web.pages import Pages

    parts = Desk(
        sign_in=wiring.desk_sign_in(settings, desk.db), pages=Pages(Path("."), ""),
        campaigns=wiring.campaigns_on(settings, desk.db), subscribers=None,  # type: ignore[arg-type]
        site=wiring.site_config(settings), clock=desk.clock,
        workbench=wiring.workbench(settings),
    )
    found = []
    for route in desk_router(parts).routes:
        assert isinstance(route, Route)
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def test_every_route_but_sign_in_needs_a_session(desk: DeskSite) -> None:
    """Without a session every GET redirects to sign-in and every POST is 403, no content."""
    routes = desk_routes(desk)
    guarded = [(m, p) for m, p in routes if not p.startswith(PUBLIC_PREFIXES)]
    assert len(guarded) >= 3
    for method, path in guarded:
        answer = desk.client.request(method, "/admin" + path)
        if method == "GET":
            assert (answer.status_code, answer.headers["location"]) == (
                303, "/admin/sign-in"), path
        else:
            assert answer.status_code == 403, (method, path)
        assert EDITOR not in answer.text


def test_a_post_without_the_csrf_token_is_refused(desk: DeskSite) -> None:
    """Signed in, a POST with no token or a wrong one gets 403 and changes nothing."""
    token = desk.sign_in()
    for data in ({}, {"csrf": "0" * 64}):
        refused = desk.client.post("/admin/sign-out", data=data)
        assert refused.status_code == 403
    assert desk.client.get("/admin/").status_code == 200  # still signed in
    assert desk.client.post("/admin/sign-out", data={"csrf": token}).status_code == 303
    assert desk.client.get("/admin/").status_code == 303


def test_only_editors_get_a_link_and_everyone_the_same_page(desk: DeskSite) -> None:
    """A stranger's address gets the editor's page word for word, and no email."""
    pages = []
    for address in ("stranger@example.org", EDITOR, "not an address"):
        page = desk.client.get("/admin/sign-in")
        answer = desk.client.post("/admin/sign-in", data={
            "form_token": form_token(page.text), "email": address})
        pages.append((answer.status_code, answer.text))
    assert len(set(pages)) == 1
    assert desk.sign_in_links("stranger@example.org") == []
    assert len(desk.sign_in_links(EDITOR)) == 1
    assert len(list(desk.outbox.glob("*.eml"))) == 1


def test_a_link_works_once_and_only_by_post(desk: DeskSite) -> None:
    """Opening the link signs nobody in; the button does, once; a second use is refused."""
    desk.ask_for_link()
    link = desk.sign_in_links()[-1]
    page = desk.client.get(link)
    assert page.status_code == 200 and SESSION_COOKIE not in page.headers.get("set-cookie", "")
    assert desk.client.get(link).status_code == 200  # a scanner's GETs change nothing
    used = desk.client.post(link, data={"form_token": form_token(page.text)})
    assert used.status_code == 303
    desk.client.cookies.delete(SESSION_COOKIE)
    again = desk.client.post(link, data={"form_token": form_token(page.text)})
    assert again.status_code == 400
    assert desk.client.get(link).status_code == 400


def test_a_link_expires_after_fifteen_minutes(desk: DeskSite) -> None:
    """A link 16 minutes old is refused."""
    desk.ask_for_link()
    link = desk.sign_in_links()[-1]
    desk.clock.advance(minutes=16)
    page = desk.client.get(link)
    assert page.status_code == 400


def test_the_session_cookie_is_http_only_strict_and_secure_over_https(desk: DeskSite) -> None:
    """The cookie: HttpOnly, SameSite=strict, Secure (the base URL is https); a new id at
    every sign-in."""
    desk.ask_for_link()
    link = desk.sign_in_links()[-1]
    page = desk.client.get(link)
    signed = desk.client.post(link, data={"form_token": form_token(page.text)})
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    first = desk.client.cookies[SESSION_COOKIE]
    desk.sign_in()
    assert desk.client.cookies[SESSION_COOKIE] != first


def test_sessions_expire_when_idle_and_sign_out_everywhere_ends_them_all(
    desk: DeskSite,
) -> None:
    """An idle session ends after 12 hours; "sign out everywhere" ends the other ones too."""
    desk.sign_in()
    desk.clock.advance(hours=12, seconds=1)
    assert desk.client.get("/admin/").status_code == 303
    first = desk.sign_in()
    other = desk.client.cookies[SESSION_COOKIE]
    second = desk.sign_in()
    assert desk.client.post("/admin/sign-out", data={"csrf": second, "everywhere": "1"}
                            ).status_code == 303
    desk.client.cookies.set(SESSION_COOKIE, other)
    assert desk.client.get("/admin/").status_code == 303
    assert first != second


def test_every_action_is_in_the_audit_log(desk: DeskSite) -> None:
    """Sign-in and sign-out are recorded with who did them."""
    token = desk.sign_in()
    page = desk.client.get("/admin/audit")
    assert page.status_code == 200
    assert "signed in" in page.text and EDITOR in page.text
    desk.client.post("/admin/sign-out", data={"csrf": token})
    desk.sign_in()
    assert "signed out" in desk.client.get("/admin/audit").text


def test_a_removed_editor_is_signed_out(db: Database, tmp_path: Path) -> None:
    """A session of an address no longer in NEWSLETTER_EDITORS opens nothing."""
    with desk_site(get_settings(), db, tmp_path / "o") as desk:
        desk.sign_in()
        cookie = desk.client.cookies[SESSION_COOKIE]
    with desk_site(get_settings(), db, tmp_path / "o", editors=("other@example.org",)) as desk:
        desk.client.cookies.set(SESSION_COOKIE, cookie)
        assert desk.client.get("/admin/").status_code == 303


def test_link_requests_are_limited_per_client(desk: DeskSite) -> None:
    """A client asking for links over and over gets 429 after five, and no more email."""
    for _ in range(5):
        desk.ask_for_link()
    page = desk.client.get("/admin/sign-in")
    refused = desk.client.post("/admin/sign-in", data={
        "form_token": form_token(page.text), "email": EDITOR})
    assert refused.status_code == 429
    assert len(desk.sign_in_links()) == 5
