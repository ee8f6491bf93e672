#!/usr/bin/env bash
# Set up a fresh Debian machine for certseal: system packages, then a virtualenv in .venv with
# the project and its development tools. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# poppler-utils: pdfsig/pdftotext, the independent signature validator and text checks
# qpdf: independent PDF structure check
# libnss3-tools: certutil, to give pdfsig a trust store
# fonts-noto-cjk, fonts-hanazono: Traditional Chinese fonts, incl. CJK Extension B
# chromium: the real browser for the site's tests
# python3-venv: virtualenv support on Debian's own Python
# postgresql: the verifier's shared store across instances, and the tests' real server
# libpq5: PostgreSQL's client library, which psycopg loads (a verifier host may use a remote server)
# nginx: the verifier's buffering front (slow uploads hold nginx, never a gunicorn worker)
# wrk: the C load generator of bench/verification.py --wrk (the client does not take the cores)
# zbar-tools: zbarimg, an independent QR decoder: tests/test_demo.py reads the documents' QR codes
# softhsm2: a software PKCS#11 token, for the signing key in an HSM (tests/keys, bench --hsm)
PACKAGES=(poppler-utils qpdf libnss3-tools fonts-noto-cjk fonts-hanazono chromium nginx wrk postgresql libpq5 zbar-tools softhsm2)
python3 -c "import venv, ensurepip" 2>/dev/null || PACKAGES+=(python3-venv)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.certseal-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
