"""An organisation's users and roles, managed by its owners."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coffre.models import append_event, session_scope
from coffre.models.organization import Role, User
from coffre.runtime import get_engine
from coffre.webui.auth import AuthError, SessionUser, check_password_strength, normalise_email


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
            _journal(session, owner, "user.added", user, {"role": role.value})
    except IntegrityError as error:
        raise AuthError("Cette adresse e-mail a déjà un compte.") from error
    return user


def set_role(owner: SessionUser, user_id: str, role: Role) -> None:
    _require_owner(owner)
    with session_scope(get_engine()) as session:
        user = _member(session, owner, user_id)
        if user.id == owner.user_id and role != Role.OWNER:
            raise AuthError("Vous ne pouvez pas retirer votre propre rôle de propriétaire.")
        user.role = role
        session.add(user)
        _journal(session, owner, "user.role_changed", user, {"role": role.value})


def remove_member(owner: SessionUser, user_id: str) -> None:
    _require_owner(owner)
    with session_scope(get_engine()) as session:
        user = _member(session, owner, user_id)
        if user.id == owner.user_id:
            raise AuthError("Vous ne pouvez pas supprimer votre propre compte ici.")
        _journal(session, owner, "user.removed", user, {})
        session.delete(user)


def _require_owner(user: SessionUser) -> None:
    if not user.may("admin"):
        raise AuthError("Réservé aux propriétaires du compte.")


def _member(session: Session, owner: SessionUser, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.org_id != owner.org_id:
        raise AuthError("Utilisateur introuvable.")
    return user


def _journal(
    session: Session, owner: SessionUser, action: str, user: User, details: dict[str, str]
) -> None:
    append_event(
        session,
        owner.org_id,
        actor=f"user:{owner.user_id}",
        action=action,
        subject_type="user",
        subject_id=user.id,
        details={"email": user.email, **details},
    )
