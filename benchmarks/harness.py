"""What every benchmark needs: a prepared embedded Coffre and its local TSA."""

from __future__ import annotations

from typing import Any


def prepare_coffre() -> Any:
    """The store, the embedded seal (SoftHSM2) and a local TSA; returns the TSA."""
    from coffre.bootstrap import prepare_home
    from coffre.settings import get_settings
    from coffre.tasks.embedded_seal import prepare_embedded_seal
    from coffre.tasks.tsa import serve_tsa

    prepare_home()
    settings = get_settings()
    embedded = prepare_embedded_seal(settings.resolved_home, settings.seal_organisation)
    return serve_tsa(
        "127.0.0.1",
        settings.tsa_port,
        embedded.tsa_cert_path,
        embedded.tsa_key_path,
        embedded.trust_root_paths[0],
    )
