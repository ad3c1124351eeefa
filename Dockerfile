# The Coffre image: the worker, the webhooks and the portal of docker-compose.yml, and
# the one-shot coffre-init. Build: `docker compose build` (or `docker build -t coffre .`).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COFFRE_SOURCE_DIR=/opt/coffre \
    COFFRE_HOME=/var/lib/coffre \
    COFFRE_INTERNAL_PKI=/var/lib/coffre-pki

# Debian packages: the list lives in scripts/system-deps.sh only (Tesseract, Ghostscript,
# qpdf, SoftHSM2, restic, age, postgresql-client…); the script runs apt-get itself, and
# COFFRE_SYSTEM_DEPS=runtime leaves out what only the tests need (Dovecot, Chromium).
# pg_dump is bookworm's postgresql-client 15, and pg_dump refuses a server of a newer
# major version: docker-compose.yml therefore runs postgres:15 (rather than a second apt
# source, PGDG, for a newer client here: one package list, one vendor, and PostgreSQL 15
# is supported upstream until November 2027).
COPY scripts/system-deps.sh /tmp/system-deps.sh
RUN COFFRE_SYSTEM_DEPS=runtime bash /tmp/system-deps.sh \
    && rm -rf /var/lib/apt/lists/* /tmp/system-deps.sh \
    && pg_dump --version

# A system user (uid and gid 10001) without a login shell; the state folders are made
# here, owned by it, so that the named volumes mounted on them start with that owner.
RUN groupadd --system --gid 10001 coffre \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/coffre \
        --shell /usr/sbin/nologin coffre \
    && mkdir -p /opt/coffre "$COFFRE_HOME" "$COFFRE_INTERNAL_PKI" \
    && chown coffre:coffre "$COFFRE_HOME" "$COFFRE_INTERNAL_PKI" \
    && chmod 0750 "$COFFRE_HOME" "$COFFRE_INTERNAL_PKI"

WORKDIR /opt/coffre

# The project and its dependencies (no dev extras). Sources first, so that a change in
# prefect.yaml or deploy/ does not reinstall everything.
COPY pyproject.toml README.md ./
COPY coffre ./coffre
RUN pip install . && python -c "import coffre, prefect, pikepdf, pkcs11"

COPY alembic.ini prefect.yaml ./
COPY migrations ./migrations
COPY deploy ./deploy

# The source tree comes first on the path: coffre/models/migrate.py finds alembic.ini and
# migrations/ next to the package, and the worker's flow runs (prefect.yaml's pull step
# sets the working directory to COFFRE_SOURCE_DIR) load the same copy as the CLI.
ENV PYTHONPATH=/opt/coffre

USER coffre
CMD ["prefect", "worker", "start", "--pool", "coffre", "--type", "process"]
