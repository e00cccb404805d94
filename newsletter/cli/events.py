"""``events`` commands: SES events from an SQS queue."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.delivery import stop_on_signals
from newsletter.cli.output import out, reported
from newsletter.feedback import sqs
from newsletter.feedback.feed import Heartbeat, feed_name
from newsletter.settings import get_settings
from newsletter.store.dead_letters import DeadLetterStore
from newsletter.store.feeds import FeedStore

events_app = typer.Typer(
    help="SES events (sends, deliveries, bounces, complaints) from an SQS queue.",
    no_args_is_help=True,
)


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@events_app.command("poll")
def poll(
    queue_url: Annotated[
        str | None, typer.Option("--queue-url", help="The SQS queue (default "
                                 "NEWSLETTER_SQS_QUEUE_URL).", metavar="URL")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Stop when the queue is empty.")
    ] = False,
    wait: Annotated[
        int, typer.Option("--wait", min=0, max=20, help="Long-poll wait per receive.",
                          metavar="SECONDS")
    ] = 20,
    receivers: Annotated[
        int, typer.Option("--receivers", min=1, max=64, help="Concurrent receive, apply "
                          "and delete loops (more for a distant queue).", metavar="N")
    ] = sqs.RECEIVERS,
) -> None:
    """Apply SES events from an SQS queue: bounces, complaints, and the sends that settle
    in-doubt deliveries under the reconcile policy.

    Messages may be SNS envelopes (verified against NEWSLETTER_SNS_TOPIC_ARNS) or, only
    when no topic is set, raw SES JSON (SNS raw message delivery; the queue policy is then
    the trust boundary). A message is deleted only after it was applied, or set aside with
    the reason when it cannot be used (see `newsletter events dead-letters`); the others
    of its batch are applied all the same.
    Without --once, an outage of the queue or the database is logged and waited out
    (growing pauses up to a minute). Stops cleanly on SIGTERM/Ctrl-C.

    Example: newsletter events poll --once --wait 5
    """
    settings = get_settings()
    with reported(), stop_on_signals() as stop:
        queue = wiring.sqs_queue(settings, queue_url)
        with wiring.database(settings, create=False) as db:
            feedback, dead = wiring.feedback(settings, db), DeadLetterStore(db)
            # The heartbeat tells `send` and `status` how current SES's news is.
            with Heartbeat(FeedStore(db), feed_name("events poll", queue.url),
                           durable=True) as beat:
                if once:
                    result = sqs.poll(queue, feedback, once=True, wait=wait, stop=stop,
                                      report=_log, receivers=receivers, dead_letters=dead,
                                      on_drained=beat.drained)
                else:  # a service: outages of the queue or the database are waited out
                    result = sqs.keep_polling(queue, feedback, wait=wait, stop=stop,
                                              report=_log, receivers=receivers,
                                              dead_letters=dead, on_drained=beat.drained)
    out.print(
        f"{result.received:,} messages: {result.applied:,} events applied, "
        f"{result.duplicates:,} duplicates, {result.dead_lettered:,} set aside as dead "
        f"letters (newsletter events dead-letters), {result.kept:,} kept to try again, "
        f"{result.confirmed:,} in-doubt deliveries confirmed sent, "
        f"{result.suppressed:,} addresses suppressed",
        markup=False,
    )
    if result.kept or result.dead_lettered:
        raise typer.Exit(3)


@events_app.command("dead-letters")
def dead_letters(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.",
                                       metavar="N")] = 20,
) -> None:
    """List queue messages set aside because they could not be used, newest first: when,
    why, and the start of the message as received.

    Example: newsletter events dead-letters --limit 5
    """
    settings = get_settings()
    with reported(), wiring.database(settings, create=False) as db:
        store = DeadLetterStore(db)
        total, letters = store.count(), store.recent(limit)
    out.print(f"{total:,} dead letters", markup=False)
    for letter in letters:
        start = letter.body[:200].decode("utf-8", "replace")
        out.print(f"#{letter.id} {letter.received_at:%Y-%m-%d %H:%M:%S} UTC ({letter.source}): "
                  f"{letter.reason}\n    {start!r}", markup=False)
