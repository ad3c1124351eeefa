#!/usr/bin/env bash
# Installs the Debian packages Coffre needs, only those that are missing.
set -euo pipefail

packages=(
  tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng  # OCR
  ghostscript unpaper pngquant qpdf                   # ocrmypdf's helpers
  poppler-utils                                       # pdftotext, pdfsig
  libmagic1                                           # content sniffing
  fonts-dejavu-core                                   # receipts rendered by tests/benchmarks
  softhsm2 libnss3-tools                              # the seal key's HSM; pdfsig's trust store
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0  # WeasyPrint: e-invoice HTML → PDF/A-3b
  restic age postgresql-client                        # nightly backups: restic repositories, age encryption, pg_dump
)

# Only for the tests (not in production images: COFFRE_SYSTEM_DEPS=runtime).
test_packages=(
  dovecot-imapd                                       # the IMAP server the mail tests fetch from
  chromium                                            # the portal tests drive a real browser (headless)
)
if [ "${COFFRE_SYSTEM_DEPS:-all}" != "runtime" ]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
