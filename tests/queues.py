"""Reading a test's SQS queues, shared by the test modules."""

from __future__ import annotations

import json


def drain(sqs, queue_url: str) -> list[dict]:
    """Every message body on the queue (parsed), deleting them."""
    bodies: list[dict] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(message["Body"]) for message in batch]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch],
        )
    return bodies
