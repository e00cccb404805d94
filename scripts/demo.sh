#!/usr/bin/env bash
# `make demo`: everything on embedded defaults (SQLite, the local outbox, sample subscribers).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
mkdir -p demo
export NEWSLETTER_DATABASE_URL=${NEWSLETTER_DATABASE_URL:-sqlite:///demo/newsletter.db}
export NEWSLETTER_OUTBOX_DIR=${NEWSLETTER_OUTBOX_DIR:-demo/outbox}
export NEWSLETTER_TRANSPORT=${NEWSLETTER_TRANSPORT:-outbox}
# The demo makes its own throwaway key; a real deployment sets NEWSLETTER_SECRET_KEY.
if [ ! -f demo/secret-key ]; then "$bin/python" -c "import secrets; print(secrets.token_urlsafe(32))" > demo/secret-key; fi
export NEWSLETTER_SECRET_KEY=${NEWSLETTER_SECRET_KEY:-$(cat demo/secret-key)}

echo "== Validating and building the sample issue"
"$bin/newsletter" validate issues/2022-09-07.yaml
"$bin/newsletter" build issues/2022-09-07.yaml --out demo/build
echo
echo "Open demo/build/2022-09-07.html in a browser, or run: .venv/bin/newsletter preview issues/2022-09-07.yaml"

echo
echo "== Loading the sample subscribers (samples/subscribers.csv; already listed ones are kept)"
"$bin/newsletter" subscribers import samples/subscribers.csv
echo
echo "== Sending the sample issue through the outbox (a second run sends nobody twice)"
"$bin/newsletter" send issues/2022-09-07.yaml --yes
echo
"$bin/newsletter" status 2022-09-07
count=$(find "$NEWSLETTER_OUTBOX_DIR" -name '*.eml' | wc -l)
echo "The messages are in $NEWSLETTER_OUTBOX_DIR/ ($count .eml files, one per recipient); open one in a mail client."
