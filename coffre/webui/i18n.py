"""The portal's words: French by default, English on request."""

from __future__ import annotations

from nicegui import app

LANGUAGES = ("fr", "en")

_EN = {
    "Tableau de bord": "Dashboard",
    "Documents": "Documents",
    "Envoyer": "Upload",
    "Compte": "Account",
    "Organisation": "Organisation",
    "Banque": "Bank",
    "Factures": "Invoices",
    "Boîtes mail": "Mailboxes",
    "Déconnexion": "Log out",
    "Connexion": "Log in",
    "Créer un compte": "Sign up",
    "Adresse e-mail": "E-mail address",
    "Mot de passe": "Password",
    "Se connecter": "Log in",
    "Nom de l'entreprise": "Business name",
    "SIREN": "SIREN",
    "Rechercher": "Search",
    "Texte": "Text",
    "Fournisseur": "Supplier",
    "Montant TTC": "Total incl. VAT",
    "Du": "From",
    "Au": "To",
    "Type": "Kind",
    "Statut": "Status",
    "Archive scellée": "Sealed archive",
    "Original": "Original",
    "Aucun document.": "No documents.",
    "Déposez vos tickets et factures (photos ou PDF)": "Drop your receipts and invoices "
    "(photos or PDF)",
    "Vérifier un document scellé": "Check a sealed document",
    "Sceau valide": "Valid seal",
    "Sceau non valide": "Seal not valid",
    "Changer le mot de passe": "Change password",
    "Mot de passe actuel": "Current password",
    "Nouveau mot de passe": "New password",
    "Documents ce mois-ci": "Documents this month",
    "En quarantaine": "Quarantined",
    "Scellés": "Sealed",
    "Opérations rapprochées": "Transactions reconciled",
    "Suggestions à valider": "Suggestions to review",
    "À faire": "Needs you",
    "Dépenses par mois (TTC)": "Spending per month (incl. VAT)",
}


def language() -> str:
    try:
        value = app.storage.user.get("lang", "fr")
    except RuntimeError:
        return "fr"
    return value if value in LANGUAGES else "fr"


def t(text: str) -> str:
    """The text in the session's language (French is the source)."""
    return _EN.get(text, text) if language() == "en" else text
