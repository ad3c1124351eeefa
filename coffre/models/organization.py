"""Organisations (a business and its accountant) and their users."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import BigInteger, Column, LargeBinary
from sqlmodel import Field, SQLModel

from coffre.models.types import EnumString

_hasher = PasswordHasher()


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    OWNER = "owner"
    ACCOUNTANT = "accountant"
    MEMBER = "member"


class Organization(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    siren: str = Field(max_length=9, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    # Account deletion: requested (the flow is under way) then done. The row stays as a
    # tombstone that carries the organisation's audit journal.
    deletion_requested_at: datetime | None = Field(default=None)
    deleted_at: datetime | None = Field(default=None)


class User(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    org_id: str = Field(foreign_key="organization.id", index=True, max_length=32)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=200)
    role: Role = Field(sa_type=EnumString(Role, 16))
    created_at: datetime = Field(default_factory=utcnow)
    # Optional second factor: the TOTP secret, encrypted with the organisation's key, and
    # the last time step accepted (a code is never accepted twice).
    totp_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    totp_last_step: int | None = Field(default=None, sa_type=BigInteger)

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
