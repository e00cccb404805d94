# The demo's settings, shared by `make demo` (scripts/demo.sh) and `make demo-serve`
# (scripts/demo-serve.sh): one database, one outbox, one key, the repository's issues.
# Sourced, not run; leaves the working directory at the repository's root.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=.venv/bin
export NEWSLETTER_DATABASE_URL=${NEWSLETTER_DATABASE_URL:-sqlite:///demo/newsletter.db}
export NEWSLETTER_OUTBOX_DIR=${NEWSLETTER_OUTBOX_DIR:-demo/outbox}
export NEWSLETTER_TRANSPORT=${NEWSLETTER_TRANSPORT:-outbox}
# The archive lists the issue files in this folder: the sample issue is one of them.
export NEWSLETTER_ISSUES_DIR=issues
# The demo makes its own throwaway key; a real deployment sets NEWSLETTER_SECRET_KEY.
mkdir -p demo
if [ ! -f demo/secret-key ]; then "$bin/python" -c "import secrets; print(secrets.token_urlsafe(32))" > demo/secret-key; fi
export NEWSLETTER_SECRET_KEY=${NEWSLETTER_SECRET_KEY:-$(cat demo/secret-key)}

# The one command (run from the repository's root) that serves the demo: its database, its
# outbox, its key and its issues, as every step of `make demo` used them.
demo_serve_command() {
    local key='"$(cat demo/secret-key)"'
    # A key of your own stays in your environment, never on the screen.
    if [ "$NEWSLETTER_SECRET_KEY" != "$(cat demo/secret-key)" ]; then key='"$NEWSLETTER_SECRET_KEY"'; fi
    printf 'NEWSLETTER_DATABASE_URL=%q NEWSLETTER_ISSUES_DIR=%q NEWSLETTER_OUTBOX_DIR=%q NEWSLETTER_TRANSPORT=%q NEWSLETTER_SECRET_KEY=%s %s serve\n' \
        "$NEWSLETTER_DATABASE_URL" "$NEWSLETTER_ISSUES_DIR" "$NEWSLETTER_OUTBOX_DIR" \
        "$NEWSLETTER_TRANSPORT" "$key" "$bin/newsletter"
}
