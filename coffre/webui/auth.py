"""Portal accounts: sign-up, login with throttling, sessions that expire, roles.

The session itself is NiceGUI's server-side user storage, keyed by a signed, HTTP-only,
Secure cookie; it holds only who is logged in and when. Throttling counts failed
logins per account and per client address (limits.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from stdnum.exceptions import ValidationError
from stdnum.fr import siren as siren_number

from coffre.models import Organization, append_event, session_scope
from coffre.models.organization import Role, User
from coffre.runtime import get_engine
from coffre.settings import get_settings
from coffre.webui.limits import SlidingWindow, minutes_to_say

MIN_PASSWORD_LENGTH = 12
SESSION_KEY = "coffre_session"

#: What each role may do (owner: everything).
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.OWNER: frozenset({"read", "upload", "reconcile", "export", "invoice", "admin"}),
    Role.ACCOUNTANT: frozenset({"read", "reconcile", "export"}),
    Role.MEMBER: frozenset({"read", "upload"}),
}


class AuthError(Exception):
    """Shown to the person as it is: never says whether an account exists."""


@dataclass(frozen=True)
class SessionUser:
    user_id: str
    org_id: str
    org_name: str
    email: str
    role: Role

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]


class LoginThrottle:
    """At most N failures per account and per client address in a sliding window."""

    def __init__(self) -> None:
        self._failures = SlidingWindow()

    def blocked_for(self, email: str, address: str) -> float:
        """Seconds until a new attempt is allowed (0: allowed now)."""
        settings = get_settings()
        window = settings.portal_login_window_minutes * 60
        return max(
            self._failures.wait(key, settings.portal_login_attempts, window)
            for key in (f"account:{email}", f"address:{address}")
        )

    def failed(self, email: str, address: str) -> None:
        for key in (f"account:{email}", f"address:{address}"):
            self._failures.record(key)

    def succeeded(self, email: str) -> None:
        self._failures.forget(f"account:{email}")


throttle = LoginThrottle()


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if "@" not in value or len(value) > 320 or value.startswith("@") or value.endswith("@"):
        raise AuthError("Adresse e-mail invalide.")
    return value


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.")


def sign_up(org_name: str, siren: str, email: str, password: str) -> SessionUser:
    """A new organisation and its owner."""
    if not org_name.strip():
        raise AuthError("Le nom de l'entreprise est obligatoire.")
    try:
        number = siren_number.validate(siren)
    except ValidationError as error:
        raise AuthError("Numéro SIREN invalide.") from error
    address = normalise_email(email)
    check_password_strength(password)
    org = Organization(name=org_name.strip(), siren=number)
    user = User(org_id=org.id, email=address, password_hash="", role=Role.OWNER)
    user.set_password(password)
    try:
        with session_scope(get_engine()) as session:
            session.add(org)
            session.flush()
            session.add(user)
            session.flush()
            append_event(
                session,
                org.id,
                actor=f"user:{user.id}",
                action="organization.created",
                subject_type="organization",
                subject_id=org.id,
                details={"via": "portal"},
            )
    except IntegrityError as error:
        raise AuthError("Cette entreprise ou cette adresse e-mail a déjà un compte.") from error
    return SessionUser(user.id, org.id, org.name, user.email, user.role)


def log_in(email: str, password: str, address: str) -> SessionUser:
    """Check the password; too many failures pause the account and the address."""
    try:
        normalised = normalise_email(email)
    except AuthError:
        normalised = email.strip().lower()
    wait = throttle.blocked_for(normalised, address)
    if wait > 0:
        raise AuthError(f"Trop de tentatives. Réessayez dans {minutes_to_say(wait)} minute(s).")
    with session_scope(get_engine()) as session:
        user = session.exec(select(User).where(User.email == normalised)).first()
        org = session.get(Organization, user.org_id) if user else None
        valid = (
            user is not None
            and org is not None
            and org.deletion_requested_at is None
            and user.check_password(password)
        )
        if not valid or user is None or org is None:
            throttle.failed(normalised, address)
            raise AuthError("Adresse e-mail ou mot de passe incorrect.")
        if user.totp_secret is not None:
            from coffre.webui.second_factor import SecondFactorNeeded

            raise SecondFactorNeeded(user.id)  # the throttle is cleared by the code
        throttle.succeeded(normalised)
        return SessionUser(user.id, org.id, org.name, user.email, user.role)


def change_password(user: SessionUser, current: str, new: str) -> None:
    check_password_strength(new)
    with session_scope(get_engine()) as session:
        row = session.get(User, user.user_id)
        if row is None or row.org_id != user.org_id or not row.check_password(current):
            raise AuthError("Mot de passe actuel incorrect.")
        row.set_password(new)
        session.add(row)
        journal_user_event(session, user, "user.password_changed", user.user_id)


def org_user(session: Session, actor: SessionUser, user_id: str) -> User:
    """A user of the actor's organisation; another organisation's is "not found"."""
    row = session.get(User, user_id)
    if row is None or row.org_id != actor.org_id:
        raise AuthError("Utilisateur introuvable.")
    return row


def journal_user_event(
    session: Session,
    actor: SessionUser,
    action: str,
    user_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """What a signed-in user did to an account of the organisation, in the audit chain."""
    append_event(
        session,
        actor.org_id,
        actor=f"user:{actor.user_id}",
        action=action,
        subject_type="user",
        subject_id=user_id,
        details=details,
    )


def session_record(user: SessionUser) -> dict[str, Any]:
    now = time.time()
    return {
        "user_id": user.user_id,
        "org_id": user.org_id,
        "org_name": user.org_name,
        "email": user.email,
        "role": user.role.value,
        "started": now,
        "seen": now,
    }


def session_user(record: dict[str, Any] | None, *, touch: bool = True) -> SessionUser | None:
    """The logged-in user, or None when there is none or the session has expired."""
    if not record:
        return None
    settings = get_settings()
    now = time.time()
    if now - float(record.get("seen", 0)) > settings.portal_session_idle_minutes * 60:
        return None
    if now - float(record.get("started", 0)) > settings.portal_session_max_hours * 3600:
        return None
    if touch:
        record["seen"] = now
    return SessionUser(
        record["user_id"],
        record["org_id"],
        record["org_name"],
        record["email"],
        Role(record["role"]),
    )
