"""Console sessions: sign in with a ``sales`` or ``manager`` key, a session cookie, CSRF tokens.

The cookie (HttpOnly, SameSite=Strict, path /console) holds a random 256-bit session id. The gateway's
database keeps its SHA-256 and the API key *sealed* (XOR with an HMAC-SHA256 keystream keyed by the
session id): a copy of the table opens no session and reveals no key, and the key never reaches the
browser. Each request's key is unsealed in memory and sent to the gateway's own JSON API.

The CSRF token of a session is HMAC(session id, "csrf"): per session, never stored, checked in
constant time on every form. The sign-in form, which has no session yet, is protected by a
double-submit token (a cookie and a hidden field that must match). Everything here runs inside a
nameko worker (``self.db``): DB only, no HTTP.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from common.errors import Forbidden
from gateway import auth
from gateway.errors import Unauthenticated

SESSION_COOKIE = "dcm_console"
SIGN_IN_COOKIE = "dcm_console_sign_in"
LANG_COOKIE = "dcm_console_lang"
COOKIE_PATH = "/console"
CONSOLE_ROLES = (auth.MANAGER, auth.SALES)
DEFAULT_SESSION_HOURS = 8  # idle time after which a session ends (CONSOLE_SESSION_HOURS)
MAX_FORM_BYTES = 64 * 1024

_KEYSTREAM = b"dcm-console-key"
_CSRF = b"dcm-console-csrf"


@dataclass(frozen=True)
class Session:
    """The signed-in user as a page sees it; ``api_key`` lives only in this request's memory."""

    role: str
    key_id: int
    api_key: str
    csrf_token: str

    @property
    def is_manager(self) -> bool:
        return self.role == auth.MANAGER


@dataclass
class Admission:
    """What the worker decided: a session to render with, or an answer already made."""

    session: Session | None = None
    response: Response | None = None
    sign_in_token: str | None = None  # the double-submit token the sign-in form must carry
    notice: str | None = None  # a message id for the sign-in page (bad key, wrong role …)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _keystream(session_id: str, length: int) -> bytes:
    blocks, counter = b"", 0
    while len(blocks) < length:
        blocks += hmac.new(session_id.encode(), _KEYSTREAM + counter.to_bytes(4, "big"),
                           hashlib.sha256).digest()
        counter += 1
    return blocks[:length]


def seal(session_id: str, api_key: str) -> bytes:
    plain = api_key.encode()
    return bytes(a ^ b for a, b in zip(plain, _keystream(session_id, len(plain)), strict=True))


def unseal(session_id: str, sealed: bytes) -> str:
    sealed = bytes(sealed)
    return bytes(a ^ b for a, b in zip(sealed, _keystream(session_id, len(sealed)), strict=True)).decode()


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), _CSRF, hashlib.sha256).hexdigest()


def secure_request(request: Request) -> bool:
    """Mark cookies Secure when the browser reached us over HTTPS (directly or through a proxy)."""
    return request.scheme == "https" or request.headers.get("X-Forwarded-Proto", "") == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="Strict", secure=secure_request(request))


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="Strict",
                           secure=secure_request(request))


def safe_next(target: str | None) -> str:
    """Only a path inside the console is a place to return to (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("/console//") \
            and "\\" not in target and "\n" not in target and "\r" not in target:
        return target
    return "/console/"


def redirect(location: str, status: int = 303) -> Response:
    return Response("", status=status, headers={"Location": location})


def to_sign_in(request: Request) -> Response:
    target = request.full_path.rstrip("?") if request.method == "GET" else "/console/"
    return redirect("/console/sign-in?next=" + quote(safe_next(target), safe=""))


# ---- store ---------------------------------------------------------------------------------------


def _insert(cur, session_id: str, principal: auth.Principal, api_key: str, hours: int) -> None:
    cur.execute("DELETE FROM console_sessions WHERE expires_at < now()")  # the expired, on the way
    cur.execute(
        "INSERT INTO console_sessions (id_hash, key_id, role, sealed_key, expires_at) "
        "VALUES (%s, %s, %s, %s, now() + make_interval(hours => %s))",
        (_hash(session_id), principal.key_id, principal.role, seal(session_id, api_key), hours))


def _touch(cur, session_id: str, hours: int) -> dict | None:
    """The live session of this id, its idle deadline moved on; None once expired, signed out or
    its key revoked (a revoked key ends its sessions at once)."""
    cur.execute(
        "UPDATE console_sessions s SET last_seen_at = now(), "
        "expires_at = now() + make_interval(hours => %s) FROM api_keys k "
        "WHERE s.id_hash = %s AND s.expires_at > now() AND k.id = s.key_id AND k.revoked_at IS NULL "
        "RETURNING s.role, s.key_id, s.sealed_key", (hours, _hash(session_id)))
    return cur.fetchone()


def _delete(cur, session_id: str) -> None:
    cur.execute("DELETE FROM console_sessions WHERE id_hash = %s", (_hash(session_id),))


# ---- what each kind of page needs ----------------------------------------------------------------


def current(cur, request: Request, hours: int) -> Session | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > 128:
        return None
    row = _touch(cur, session_id, hours)
    if row is None:
        return None
    return Session(row["role"], row["key_id"], unseal(session_id, row["sealed_key"]), csrf_token(session_id))


def form_token_ok(request: Request, expected: str) -> bool:
    given = request.form.get("csrf_token", "")
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def refused_form() -> Response:
    return Response("403 Forbidden: this form's CSRF token is missing or wrong; reload the page and "
                    "try again. / 表单的 CSRF 令牌缺失或无效，请刷新页面后重试。", status=403,
                    mimetype="text/plain")


def admit_page(cur, request: Request, hours: int) -> Admission:
    """A page behind sign-in: the session, or a redirect to the sign-in page."""
    session = current(cur, request, hours)
    if session is None:
        response = to_sign_in(request)
        if request.cookies.get(SESSION_COOKIE):
            clear_cookie(response, request, SESSION_COOKIE)
        return Admission(response=response)
    return Admission(session=session)


def admit_form(cur, request: Request, hours: int) -> Admission:
    """A form post: a session and its CSRF token, or refused (403) before anything is done."""
    session = current(cur, request, hours)
    if session is None:
        return Admission(response=to_sign_in(request))
    if not form_token_ok(request, session.csrf_token):
        return Admission(response=refused_form())
    return Admission(session=session)


def admit_sign_in_page(cur, request: Request, hours: int) -> Admission:
    """The sign-in form: straight on when already signed in, else a fresh double-submit token."""
    if current(cur, request, hours) is not None:
        return Admission(response=redirect(safe_next(request.args.get("next"))))
    return Admission(sign_in_token=secrets.token_urlsafe(32))


def sign_in(cur, request: Request, hours: int, key_cache: auth.KeyCache) -> Admission:
    """Check the double-submit token and the key (the same key table every API call is checked
    against); a sales or manager key opens a new session."""
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not form_token_ok(request, expected):
        return Admission(response=refused_form())
    api_key = request.form.get("api_key", "").strip()
    try:
        principal = auth.authenticate(lambda: cur, key_cache, f"Bearer {api_key}", CONSOLE_ROLES)
    except Unauthenticated:
        return Admission(sign_in_token=secrets.token_urlsafe(32), notice="sign_in.bad_key")
    except Forbidden:
        return Admission(sign_in_token=secrets.token_urlsafe(32), notice="sign_in.wrong_role")
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        _delete(cur, old)
    session_id = secrets.token_urlsafe(32)
    _insert(cur, session_id, principal, api_key, hours)
    response = redirect(safe_next(request.form.get("next")))
    set_cookie(response, request, SESSION_COOKIE, session_id, None)
    clear_cookie(response, request, SIGN_IN_COOKIE)
    return Admission(response=response)


def sign_out(cur, request: Request, hours: int) -> Admission:
    session_id = request.cookies.get(SESSION_COOKIE)
    session = current(cur, request, hours)
    if session is not None and not form_token_ok(request, session.csrf_token):
        return Admission(response=refused_form())
    if session_id:
        _delete(cur, session_id)
    response = redirect("/console/sign-in")
    clear_cookie(response, request, SESSION_COOKIE)
    return Admission(response=response)

