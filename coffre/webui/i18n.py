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
    "Code de l'application d'authentification": "Authenticator app code",
    "Double authentification": "Two-factor authentication",
    "Activée : un code est demandé à chaque connexion.": "On: a code is asked at every log-in.",
    "Code actuel": "Current code",
    "Désactiver": "Turn off",
    "Ajoutez cette clé dans votre application (FreeOTP, Aegis…) :": (
        "Add this key to your app (FreeOTP, Aegis…):"
    ),
    "ou ouvrez ce lien sur votre téléphone": "or open this link on your phone",
    "Code affiché par l'application": "Code shown by the app",
    "Activer": "Turn on",
    "Connexions bancaires": "Bank connections",
    "Supprimer": "Delete",
    "Connecter une banque": "Connect a bank",
    "Connexion enregistrée : la synchronisation commence.": "Connection saved: syncing starts.",
    "Retour à la banque": "Back to the bank",
    "Confirmer": "Confirm",
    "Rejeter": "Reject",
    "Opérations": "Transactions",
    "rapprochée": "matched",
    "Rapprocher": "Match",
    "Quel document cette opération paie-t-elle ?": "Which document does this transaction pay?",
    "Rechercher (fournisseur, texte, montant)": "Search (supplier, text, amount)",
    "Vérifier": "Check",
    "Document introuvable.": "Document not found.",
    "Factures émises": "Issued invoices",
    "Aucune facture.": "No invoices.",
    "Avoir": "Credit note",
    "Nouvelle facture": "New invoice",
    "Client": "Customer",
    "SIREN du client (facultatif)": "Customer's SIREN (optional)",
    "E-mail du client (facultatif)": "Customer's e-mail (optional)",
    "Adresse du client": "Customer's address",
    "Code postal du client": "Customer's postcode",
    "Ville du client": "Customer's city",
    "Désignation": "Description",
    "Quantité": "Quantity",
    "Prix unitaire HT": "Unit price excl. VAT",
    "Échéance": "Due date",
    "Émettre la facture": "Issue the invoice",
    "Mentions légales de vos factures": "Legal mentions on your invoices",
    "Enregistrer": "Save",
    "Aucune boîte mail.": "No mailboxes.",
    "Ajouter une boîte mail": "Add a mailbox",
    "Nom": "Name",
    "Expéditeurs (adresses ou domaines, séparés par des virgules)": (
        "Senders (addresses or domains, comma-separated)"
    ),
    "Mots du sujet (facultatif)": "Subject words (optional)",
    "Serveur IMAP": "IMAP server",
    "Identifiant": "User name",
    "Identifiant de l'autorisation Nylas (grant)": "Nylas grant id",
    "Ajouter": "Add",
    "Chiffrement": "Encryption",
    "Export des données": "Data export",
    "Une archive zip de tous les documents scellés et un index CSV.": (
        "A zip of every sealed document and a CSV index."
    ),
    "Télécharger l'export": "Download the export",
    "Utilisateurs": "Users",
    "Retirer": "Remove",
    "Mot de passe provisoire": "Temporary password",
    "Supprimer le compte": "Delete the account",
    "Tapez le nom de l'entreprise pour confirmer": "Type the business name to confirm",
    "Supprimer définitivement": "Delete for good",
    "Rôle": "Role",
    "Nouveau client": "New customer",
    "Client existant": "Existing customer",
    "Émettre": "Issue",
    "Enregistrer le brouillon": "Save as draft",
    "Clients": "Customers",
    "Aucun client.": "No customers.",
    "Fichier": "File",
    "TTC": "Incl. VAT",
    "Reçu": "Received",
    "Converti (sceau en attente)": "Converted (seal pending)",
    "Scellé": "Sealed",
    (
        "Les accès bancaires (Powens) et les boîtes mail sont fermés chez les fournisseurs, "
        "la clé de chiffrement est détruite : les documents deviennent illisibles partout, "
        "sauvegardes comprises. Exportez vos données d'abord."
    ): (
        "Bank access (Powens) and mailboxes are closed at the providers, the encryption key "
        "is destroyed: the documents become unreadable everywhere, backups included. "
        "Export your data first."
    ),
    (
        "Déposez un PDF : Coffre vérifie son sceau électronique et son horodatage. "
        "Le fichier n'est pas conservé."
    ): "Drop a PDF: Coffre checks its electronic seal and timestamp. The file is not kept.",
    "Trop de vérifications depuis votre adresse.": "Too many checks from your address.",
    "Réessayez dans {minutes} minute(s).": "Try again in {minutes} minute(s).",
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
