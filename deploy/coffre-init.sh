#!/bin/sh
# One-shot set-up of the stack, run by the coffre-init service of docker-compose.yml before
# the worker, the webhooks, the portal and Caddy start. Idempotent: every
# `docker compose up -d` runs it again, and it leaves alone what is already done.
set -eu

# 1. Internal TLS: a private CA, and the certificates of the vault's S3 endpoint (SeaweedFS)
#    and of the portal (Caddy checks it against that CA). The services trust ca.pem.
python "$COFFRE_SOURCE_DIR/deploy/internal_tls.py" "$COFFRE_INTERNAL_PKI" s3.coffre.internal portal

# 2. The store's schema (Alembic) and the key store.
coffre init

# 3. Coffre's block types, so that operators find them in the dashboard (Blocks → +).
for module in coffre.blocks.storage coffre.blocks.seal coffre.blocks.mail \
    coffre.blocks.bank coffre.blocks.backup; do
  prefect block register -m "$module" >/dev/null
done

# 4. The HSM's global concurrency limit: every seal batch, on any worker, takes a slot of
#    hsm-<token label> (coffre/tasks/seal.py, SealConfig.limit_name).
limit="hsm-${COFFRE_SEAL_TOKEN_LABEL:-coffre-seal}"
slots="${COFFRE_SEAL_CONCURRENCY:-2}"
if prefect gcl inspect "$limit" >/dev/null 2>&1; then
  prefect gcl update "$limit" --limit "$slots" >/dev/null
else
  prefect gcl create "$limit" --limit "$slots" >/dev/null
fi

# 5. The process work pool and the deployments of prefect.yaml.
prefect work-pool inspect coffre >/dev/null 2>&1 || prefect work-pool create coffre --type process
cd "$COFFRE_SOURCE_DIR"
prefect --no-prompt deploy --all
echo "coffre-init: done"
