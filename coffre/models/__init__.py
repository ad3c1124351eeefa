"""The SQLModel store: tables, engine/session, tenant-scoped queries. No Prefect here."""

from coffre.models.audit import AuditEvent, ChainReport, append_event, verify_chain
from coffre.models.bank import (
    BankAccount,
    BankConnection,
    BankConnectionState,
    BankTransaction,
    Match,
    MatchKind,
    StatementImport,
)
from coffre.models.db import engine_for, make_engine, session_scope, store_engine
from coffre.models.document import Document, DocumentKind, DocumentSource, DocumentStatus
from coffre.models.invoicing import (
    Customer,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    SellerProfile,
)
from coffre.models.mail import (
    MailConnection,
    MailConnectionStatus,
    MailProvider,
    ProcessedMessage,
)
from coffre.models.organization import Organization, Role, User, new_id, utcnow
from coffre.models.queries import (
    NotFound,
    find_document_by_content,
    find_organization,
    get_document,
    list_documents,
)

__all__ = [
    "AuditEvent",
    "BankAccount",
    "BankConnection",
    "BankConnectionState",
    "BankTransaction",
    "ChainReport",
    "Customer",
    "Document",
    "DocumentKind",
    "DocumentSource",
    "DocumentStatus",
    "Invoice",
    "InvoiceCounter",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceState",
    "MailConnection",
    "MailConnectionStatus",
    "MailProvider",
    "Match",
    "MatchKind",
    "NotFound",
    "Organization",
    "ProcessedMessage",
    "Role",
    "SellerProfile",
    "StatementImport",
    "User",
    "append_event",
    "engine_for",
    "find_document_by_content",
    "find_organization",
    "get_document",
    "list_documents",
    "make_engine",
    "new_id",
    "session_scope",
    "store_engine",
    "utcnow",
    "verify_chain",
]
