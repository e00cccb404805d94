"""SES events built from what a loopback SES endpoint really accepted, for end-to-end tests.

moto does not publish SES events itself; these helpers make the ``Send`` event SES would
publish for each message moto's SES accepted (its id, recipients and our delivery header,
read from the accepted raw message), and deliver them through moto's SNS and SQS.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import boto3

from support.moto_ses import Accepted


def send_event(accepted: Accepted) -> dict[str, Any]:
    """The configuration-set ``Send`` event for one accepted message."""
    message = accepted.parsed()
    recipients = sorted(set(accepted.destinations))
    stamp = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    return {
        "eventType": "Send",
        "mail": {
            "timestamp": stamp,
            "source": str(message["From"]),
            "sendingAccountId": "123456789012",
            "messageId": accepted.message_id,
            "destination": recipients,
            "headersTruncated": False,
            "headers": [{"name": name, "value": str(value)} for name, value in message.items()],
            "commonHeaders": {"from": [str(message["From"])], "to": recipients,
                              "subject": str(message["Subject"])},
            "tags": {"ses:configuration-set": ["newsletter"]},
        },
        "send": {},
    }


# One session for the tests' own clients: a new session reads every service model again
# (~0.1 s of CPU a client). Credentials come from the environment the tests set (any will
# do for the loopback servers); a session is not thread-safe, so clients are made in turn.
_SESSION = boto3.session.Session()
_SESSION_LOCK = threading.Lock()


def client(service: str, url: str) -> Any:
    with _SESSION_LOCK:
        return _SESSION.client(service, region_name="us-east-1", endpoint_url=url)


def topic_to_queue(url: str, name: str = "ses-events") -> tuple[str, str]:
    """An SNS topic delivering to an SQS queue with raw message delivery: (topic, queue URL)."""
    sns, sqs = client("sns", url), client("sqs", url)
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    return topic, queue_url


def publish(url: str, topic: str, events: list[dict[str, Any]]) -> None:
    sns = client("sns", url)
    for event in events:
        sns.publish(TopicArn=topic, Message=json.dumps(event))


def engagement_event(accepted: Accepted, kind: str, at: dt.datetime,
                     **section: Any) -> dict[str, Any]:
    """A configuration-set ``Delivery``, ``Open``, ``Click``, ``Bounce`` or ``Complaint``
    event about one accepted message, happening ``at``; ``section`` adds to its own part
    (``userAgent``, ``link``, ...)."""
    event = send_event(accepted)
    name = {"delivery": "Delivery", "open": "Open", "click": "Click", "bounce": "Bounce",
            "complaint": "Complaint"}[kind]
    recipients = event["mail"]["destination"]
    stamp = at.isoformat().replace("+00:00", "Z")
    part: dict[str, Any] = {"timestamp": stamp}
    if kind == "delivery":
        part.update(recipients=recipients, smtpResponse="250 2.6.0 Message received")
    elif kind == "bounce":
        part.update(bounceType="Permanent", bounceSubType="General",
                    bouncedRecipients=[{"emailAddress": r} for r in recipients])
    elif kind == "complaint":
        part.update(complaintFeedbackType="abuse",
                    complainedRecipients=[{"emailAddress": r} for r in recipients])
    elif kind in ("open", "click"):
        part.update(ipAddress="192.0.2.1")
    part.update(section)
    event["eventType"] = name
    del event["send"]
    event[kind] = part
    return event
