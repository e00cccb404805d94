"""Benchmark: other routes' latency while the SES webhook is flooded (issue #24, item 6).

A real ``newsletter serve`` (SQLite, an SNS topic configured so the webhook exists) on
127.0.0.1. First ``GET /subscribe`` and ``GET /static/site.css`` alternately, one
keep-alive connection, for ``--seconds``; then the same while another process keeps 16
connections posting a 256 KB unsigned JSON body (an SNS-looking object with a list of
85,000 numbers) to ``/webhooks/ses`` back to back (``tests/support/flood.py``). Writes
the "Hardening" section of BENCHMARKS.md (not with ``--no-write``).

    .venv/bin/python bench/webhook_flood.py              # ~1 min, updates BENCHMARKS.md
    .venv/bin/python bench/webhook_flood.py --seconds 3 --no-write
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from report import cpu_model, markers, write_section  # noqa: E402
from support.env import TEST_SECRET  # noqa: E402
from support.flood import FLOOD_BODY, FLOOD_CONNECTIONS, Latency, flooded, probe  # noqa: E402
from support.servers import free_port, running  # noqa: E402
from support.sns import TOPIC  # noqa: E402

PATHS = ["/subscribe", "/static/site.css"]
INTRO = (
    "`bench/webhook_flood.py`. A real `newsletter serve` on 127.0.0.1 (SQLite, an SNS topic "
    "configured); `GET /subscribe` and `GET /static/site.css` alternately on one keep-alive "
    f"connection, first alone, then while another process keeps {FLOOD_CONNECTIONS} "
    "connections posting a 256 KB unsigned JSON body (an SNS-looking object holding a list "
    "of 85,000 numbers) to `/webhooks/ses` back to back; every flood post is answered 403. "
    "Before the fix (bodies parsed and walked on the event loop) this script gave medians "
    "of 2,635 and 2,902 ms during the flood (300-400 times the unloaded median; 5 posts "
    "answered a second), and `tests/e2e/test_webhook_flood.py` 3,893 ms, on this machine "
    "(the issue measured 815 ms elsewhere). Now the raw body must have an SNS envelope's "
    "shape (a flat object of strings, checked by one linear pattern before any object is "
    "built), and bodies over 16 KB are parsed and verified in two threads of their own. "
    "Measured on a shared 2-core machine under load from other work: the load average is "
    "given, and the figures move with it."
)


def row(name: str, latency: Latency) -> str:
    return (f"| {name} | {latency.median:.1f} | {latency.p90:.1f} | {max(latency.samples):.1f} "
            f"| {len(latency.samples)} |\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase (default 15)")
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "NEWSLETTER_BASE_URL": url, "NEWSLETTER_SECRET_KEY": TEST_SECRET,
               "NEWSLETTER_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
               "NEWSLETTER_OUTBOX_DIR": str(folder / "outbox"),
               "NEWSLETTER_TRANSPORT": "outbox", "NEWSLETTER_SNS_TOPIC_ARNS": TOPIC,
               "NEWSLETTER_ISSUES_DIR": str(ROOT / "issues")}
        command = [str(Path(sys.executable).parent / "newsletter"), "serve", "--port",
                   str(port), "--no-access-log"]
        load_before = os.getloadavg()[0]
        with running(command, env, folder, f"{url}/healthz", folder / "serve.log"):
            quiet = probe(url, PATHS, args.seconds)
            loaded, answers = flooded(url, PATHS, args.seconds, folder / "flood.log")
        load_after = os.getloadavg()[0]
    posts = sum(answers.values())
    print(f"alone: median {quiet.median:.1f} ms; flooded: median {loaded.median:.1f} ms, "
          f"p90 {loaded.p90:.1f} ms; flood answers {answers}")
    if args.no_write:
        return 0
    block = (
        f"Measured {dt.date.today().isoformat()} on {os.cpu_count()} cores ({cpu_model()}), "
        f"Python {platform.python_version()}, {args.seconds:.0f} s per phase; flood body "
        f"{len(FLOOD_BODY):,} bytes, {posts:,} posts answered ({posts / args.seconds:.0f}/s: "
        f"{', '.join(f'{n:,} x {s}' for s, n in sorted(answers.items()))}).\n\n"
        "| `/subscribe` and `/static/site.css` | median ms | p90 ms | max ms | requests |\n"
        "|---|---:|---:|---:|---:|\n"
        + row("alone", quiet) + row(f"during the flood ({FLOOD_CONNECTIONS} connections)", loaded)
        + f"\nLoad average (1 min) at the start {load_before:.1f}, at the end {load_after:.1f}, "
        f"on {os.cpu_count()} cores (the machine is shared).\n"
    )
    begin, end = markers("webhook_flood.py")
    write_section("webhook_flood.py", "Hardening: the webhook under a flood",
                  f"{begin}\n{block}{end}", intro=INTRO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
