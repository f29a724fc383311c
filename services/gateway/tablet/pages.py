"""The tablet page and its enrolment: HTML, script, style and strings, all from this package.

Nothing is loaded from another host (clinic LAN, no internet; the CSP says so too). Strings
are data (strings/<lang>.json): a language is a new file, no code. Every response is
``Cache-Control: no-store``: a shared tablet keeps no page with answers in its cache.
"""

from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.app import Gateway, gateway
from services.gateway.credentials import DEVICE_COOKIE
from services.gateway.outcome import NO_STORE, HttpProblem, Issue
from services.platform.auth import TABLET

router = APIRouter()
STATIC_TYPES = {"intake.js": "text/javascript", "intake.css": "text/css", "staff.css": "text/css"}
LANG = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
DEVICE_COOKIE_DAYS = 365


@cache
def _asset(folder: str, name: str) -> bytes:
    return resources.files("services.gateway.tablet").joinpath(folder, name).read_bytes()


def languages() -> list[str]:
    folder = resources.files("services.gateway.tablet").joinpath("strings")
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


@router.get("/intake", response_class=HTMLResponse)
async def intake_page(request: Request, gw: Gateway = Depends(gateway)) -> Response:  # noqa: B008
    found = gw.auth.identify(request, DEVICE_COOKIE)
    if found is None or TABLET not in found[0].scopes:
        return RedirectResponse("/intake/enrol", status_code=303, headers=NO_STORE)
    page = _asset("static", "intake.html").decode()
    page = page.replace("{{IDLE_SECONDS}}", str(gw.cfg.gateway_idle_seconds))
    page = page.replace("{{MAX_QUESTIONS}}", str(gw.cfg.gateway_max_questions))
    return HTMLResponse(page, headers=NO_STORE)


@router.get("/intake/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC_TYPES:
        raise HttpProblem(404, [Issue("name", f"no such file {name!r}")])
    return Response(_asset("static", name), media_type=STATIC_TYPES[name], headers=NO_STORE)


@router.get("/intake/strings/{lang}.json")
async def strings(lang: str) -> Response:
    if not LANG.match(lang) or lang not in languages():
        raise HttpProblem(404, [Issue("lang", f"no strings for {lang!r}; available: {languages()}")])
    return Response(_asset("strings", f"{lang}.json"), media_type="application/json", headers=NO_STORE)


ENROL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Enrol this tablet</title><link rel="stylesheet" href="/intake/static/staff.css"></head>
<body><main><h1>Enrol this tablet</h1>
<p>Staff only. Paste this tablet's device token (issued with the <code>tablet</code> scope:
<code>python -m services.platform.auth issue tablet-NAME --scopes tablet --file TOKENS</code>).
The tablet keeps it until it is revoked.</p>
{message}
<form method="post" action="/intake/enrol" autocomplete="off">
<label for="token">Device token</label>
<input id="token" name="token" type="password" required autocomplete="off" spellcheck="false">
<button type="submit">Enrol</button></form></main></body></html>"""


@router.get("/intake/enrol", response_class=HTMLResponse)
async def enrol_page() -> HTMLResponse:
    return HTMLResponse(ENROL_PAGE.format(message=""), headers=NO_STORE)


@router.post("/intake/enrol")
async def enrol(request: Request, gw: Gateway = Depends(gateway)) -> Response:  # noqa: B008
    token = (parse_qs((await request.body()).decode(errors="replace")).get("token") or [""])[0].strip()
    principal = gw.auth.principal_of(token) if token else None
    if principal is None or TABLET not in principal.scopes:
        why = "That token is not a tablet token (unknown, revoked, or without the 'tablet' scope)."
        message = f'<p class="error" role="alert">{html.escape(why)}</p>'
        return HTMLResponse(ENROL_PAGE.format(message=message), status_code=401, headers=NO_STORE)
    reply = RedirectResponse("/intake", status_code=303, headers=NO_STORE)
    reply.set_cookie(DEVICE_COOKIE, token, max_age=DEVICE_COOKIE_DAYS * 86400, httponly=True, samesite="strict",
                     secure=gw.cfg.gateway_secure_cookies, path="/")
    return reply
