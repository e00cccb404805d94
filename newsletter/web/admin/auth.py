"""``/admin/sign-in``: a link by email, a button that signs in, and signing out."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from newsletter.web.admin.guard import SESSION_COOKIE
from newsletter.web.admin.parts import Desk
from newsletter.web.clients import rate_key
from newsletter.web.ratelimit import RateLimiter
from newsletter.web.security import PRIVATE, form_ok, form_token, with_form_cookie

MAX_ADDRESS = 320
# Link requests per client address in SIGN_IN_WINDOW seconds: enough for a mistyped address
# or two, too few to flood an editor's inbox or the links table.
SIGN_IN_LIMIT = 5
SIGN_IN_WINDOW = 600.0


def routes(desk: Desk) -> list[BaseRoute]:
    limiter = RateLimiter(SIGN_IN_LIMIT, SIGN_IN_WINDOW)

    async def sign_in_form(request: Request) -> Response:
        token = form_token(request)
        page = desk.render(request, "sign_in", {"page_title": "Sign in", "form_token": token})
        return with_form_cookie(page, request, token)

    async def sign_in_post(request: Request) -> Response:
        form = await request.form()
        if not form_ok(request, form):
            return desk.pages.message(request, "limited", 403, PRIVATE)
        client = request.client.host if request.client else ""
        if not limiter.hit(rate_key(client)):
            # The same answer for every address: only the client's own pace counts.
            return desk.pages.message(request, "limited", 429, PRIVATE)
        address = str(form.get("email", ""))[:MAX_ADDRESS]
        # The same page, at once, for every address; the link (or nothing) is made after
        # the answer has gone, so its timing tells nothing either.
        page = desk.render(request, "sign_in_sent", {"page_title": "Check your inbox"})
        if address.strip():
            page.background = BackgroundTask(desk.sign_in.request_link, address)
        return page

    async def link_page(request: Request) -> Response:
        secret = request.path_params["secret"]
        live = await run_in_threadpool(desk.sign_in.link_is_live, secret)
        if not live:
            return desk.render(request, "sign_in_bad_link", {"page_title": "Link not valid"}, 400)
        token = form_token(request)
        page = desk.render(request, "sign_in_confirm",
                           {"page_title": "Sign in", "form_token": token})
        return with_form_cookie(page, request, token)

    async def link_post(request: Request) -> Response:
        form = await request.form()
        if not form_ok(request, form):
            return desk.pages.message(request, "limited", 403, PRIVATE)
        session = await run_in_threadpool(desk.sign_in.sign_in, request.path_params["secret"])
        if session is None:
            return desk.render(request, "sign_in_bad_link", {"page_title": "Link not valid"}, 400)
        response = desk.back(request, "/")
        response.set_cookie(
            SESSION_COOKIE, session, httponly=True, samesite="strict", path="/",
            secure=desk.sign_in.config.secure_cookies,
        )
        return response

    async def sign_out(request: Request) -> Response:
        form = await request.form()
        everywhere = form.get("everywhere") == "1"
        await run_in_threadpool(desk.sign_in.sign_out, request.state.session,
                                request.state.editor, everywhere)
        response = desk.back(request, "/sign-in")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [
        Route("/sign-in", sign_in_form, methods=["GET"]),
        Route("/sign-in", sign_in_post, methods=["POST"]),
        Route("/sign-in/{secret}", link_page, methods=["GET"]),
        Route("/sign-in/{secret}", link_post, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]

