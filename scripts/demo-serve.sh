#!/usr/bin/env bash
# `make demo-serve`: the web app on what `make demo` made (its database, outbox, key and
# issues), so the archive shows the sample issue it sent. Extra arguments go to `serve`.
set -euo pipefail
source "$(dirname "$0")/demo-env.sh"
if [[ $NEWSLETTER_DATABASE_URL == sqlite:///demo/newsletter.db && ! -f demo/newsletter.db ]]; then
    echo "There is no demo to serve yet: run make demo first." >&2
    exit 1
fi
echo "Running: $(demo_serve_command)${*:+ $*}"
echo "Open /archive/ (the sample issue) and /subscribe at the address below."
exec "$bin/newsletter" serve "$@"
