#!/usr/bin/env bash
# `make demo`: everything on embedded defaults (SQLite, the local outbox, sample subscribers).
set -euo pipefail
# The settings (database, outbox, key, issues) are in demo-env.sh, shared with demo-serve.sh.
source "$(dirname "$0")/demo-env.sh"

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

echo
echo "== See it in the web app: the archive lists the sample issue just sent"
echo "Run make demo-serve (then open http://127.0.0.1:8000/archive/); it is this command:"
demo_serve_command
