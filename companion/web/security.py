"""What every response and every form goes through: security headers, the CSRF check, cookie flags."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts and styles only from this site (no inline script can run, whatever a field contains), no
# framing, forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}
SESSION_COOKIE = "companion_session"
FORM_COOKIE = "companion_form"
"""Before sign-in there is no session: the sign-in and pairing forms check a token against this cookie."""


class SecurityHeaders:
    """Adds the headers to every response. Plain ASGI rather than Starlette's BaseHTTPMiddleware, which
    costs a task group per request (measured: a third of the reminders page's time under load)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if secure:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, with_headers)


def check_csrf(sent: str | None, expected: str | None) -> None:
    """403 unless the form carried the token this session (or this browser, before sign-in) was given."""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(status_code=403, detail="The form has expired or did not come from this site.")


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
