"""An organisation's users and roles, managed by its owners."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from coffre.models import session_scope
from coffre.models.organization import Role, User
from coffre.runtime import get_engine
from coffre.webui.auth import (
    AuthError,
    SessionUser,
    check_password_strength,
    journal_user_event,
    normalise_email,
    org_user,
)


def list_members(org_id: str) -> list[User]:
    with session_scope(get_engine()) as session:
        return list(
            session.exec(select(User).where(User.org_id == org_id).order_by(col(User.email)))
        )


def add_member(owner: SessionUser, email: str, password: str, role: Role) -> User:
    _require_owner(owner)
    check_password_strength(password)
    user = User(org_id=owner.org_id, email=normalise_email(email), password_hash="", role=role)
    user.set_password(password)
    try:
        with session_scope(get_engine()) as session:
            session.add(user)
            session.flush()
            journal_user_event(
                session, owner, "user.added", user.id, {"email": user.email, "role": role.value}
            )
    except IntegrityError as error:
        raise AuthError("Cette adresse e-mail a déjà un compte.") from error
    return user


def set_role(owner: SessionUser, user_id: str, role: Role) -> None:
    _require_owner(owner)
    with session_scope(get_engine()) as session:
        user = org_user(session, owner, user_id)
        if user.id == owner.user_id and role != Role.OWNER:
            raise AuthError("Vous ne pouvez pas retirer votre propre rôle de propriétaire.")
        user.role = role
        session.add(user)
        journal_user_event(
            session, owner, "user.role_changed", user.id, {"email": user.email, "role": role.value}
        )


def remove_member(owner: SessionUser, user_id: str) -> None:
    _require_owner(owner)
    with session_scope(get_engine()) as session:
        user = org_user(session, owner, user_id)
        if user.id == owner.user_id:
            raise AuthError("Vous ne pouvez pas supprimer votre propre compte ici.")
        journal_user_event(session, owner, "user.removed", user.id, {"email": user.email})
        session.delete(user)


def _require_owner(user: SessionUser) -> None:
    if not user.may("admin"):
        raise AuthError("Réservé aux propriétaires du compte.")
