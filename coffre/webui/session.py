"""Who is logged in, from NiceGUI's server-side user storage."""

from __future__ import annotations

from nicegui import app

from coffre.webui.auth import SESSION_KEY, SessionUser, session_record, session_user


def current_user() -> SessionUser | None:
    record = app.storage.user.get(SESSION_KEY)
    user = session_user(record)
    if user is None and record is not None:
        app.storage.user.pop(SESSION_KEY, None)  # expired: forget it
    elif record is not None:
        app.storage.user[SESSION_KEY] = record  # persist the new "last seen"
    return user


def start_session(user: SessionUser) -> None:
    app.storage.user.clear()
    app.storage.user[SESSION_KEY] = session_record(user)


def end_session() -> None:
    app.storage.user.clear()
