"""The optional second factor: TOTP codes from an authenticator app (RFC 6238).

The secret is encrypted with the organisation's key (destroyed with the account), a
code is accepted once at most (replays fail), and wrong codes count towards the same
login throttle as wrong passwords.
"""

from __future__ import annotations

import hmac
import time

import pyotp

from coffre.models import session_scope
from coffre.models.organization import Organization, User
from coffre.runtime import get_engine
from coffre.tasks.org_secrets import open_secret, seal_secret
from coffre.webui.auth import (
    AuthError,
    SessionUser,
    journal_user_event,
    org_user,
    throttle,
)
from coffre.webui.limits import minutes_to_say

ISSUER = "Coffre"
_WINDOW = 1  # one step (30 s) either side: clocks drift


class SecondFactorNeeded(Exception):
    """The password was right; a code is needed to finish logging in."""

    def __init__(self, user_id: str) -> None:
        super().__init__("code required")
        self.user_id = user_id


def _address(user_id: str) -> str:
    return f"user-totp:{user_id}"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step whose code this is, if recent enough and not used before."""
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    for step in range(now - _WINDOW, now + _WINDOW + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code.strip().replace(" ", "")):
            return step
    return None


def enable(user: SessionUser, secret: str, code: str) -> None:
    """Turn the second factor on once the app shows a valid code for the new secret."""
    step = _matching_step(secret, code, None)
    if step is None:
        raise AuthError("Code incorrect : vérifiez l'heure de votre téléphone et réessayez.")
    with session_scope(get_engine()) as session:
        row = org_user(session, user, user.user_id)
        row.totp_secret = seal_secret(user.org_id, _address(row.id), secret.encode())
        row.totp_last_step = step
        session.add(row)
        journal_user_event(session, user, "user.second_factor_enabled", user.user_id)


def disable(user: SessionUser, code: str) -> None:
    with session_scope(get_engine()) as session:
        row = org_user(session, user, user.user_id)
        if row.totp_secret is None:
            return
        secret = open_secret(user.org_id, _address(row.id), row.totp_secret).decode()
        if _matching_step(secret, code, row.totp_last_step) is None:
            raise AuthError("Code incorrect.")
        row.totp_secret, row.totp_last_step = None, None
        session.add(row)
        journal_user_event(session, user, "user.second_factor_disabled", user.user_id)


def enabled(user: SessionUser) -> bool:
    with session_scope(get_engine()) as session:
        return org_user(session, user, user.user_id).totp_secret is not None


def complete_login(user_id: str, code: str, address: str) -> SessionUser:
    """Second step of a login whose password was right."""
    with session_scope(get_engine()) as session:
        row = session.get(User, user_id)
        org = session.get(Organization, row.org_id) if row else None
        if row is None or org is None or row.totp_secret is None:
            raise AuthError("Session de connexion expirée : recommencez.")
        wait = throttle.blocked_for(row.email, address)
        if wait > 0:
            raise AuthError(f"Trop de tentatives. Réessayez dans {minutes_to_say(wait)} minute(s).")
        secret = open_secret(row.org_id, _address(row.id), row.totp_secret).decode()
        step = _matching_step(secret, code, row.totp_last_step)
        if step is None:
            throttle.failed(row.email, address)
            raise AuthError("Code incorrect.")
        row.totp_last_step = step
        session.add(row)
        throttle.succeeded(row.email)
        return SessionUser(row.id, org.id, org.name, row.email, row.role)
