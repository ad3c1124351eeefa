"""Coffre: sealed, encrypted, reconciled document vault for French small businesses."""

__version__ = "0.1.0"
