"""Dead-letter queues: what could not be delivered waits 14 days, encrypted, reachable over TLS."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from spinboard_cdk.nag import acknowledge


def dead_letter_queue(scope: Construct, construct_id: str, *, holds: str) -> sqs.Queue:
    """A queue for what `holds` describes (it needs no dead-letter queue of its own)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        retention_period=Duration.days(14),
        enforce_ssl=True,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself a dead-letter queue: it holds {holds}.",
    )
    return queue
