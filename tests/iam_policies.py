"""Names and policy builders shared by the IAM tests (test_iam, test_iam_check_access)."""

from __future__ import annotations

ACCOUNT, OTHER = "123456789012", "222222222222"
SALES_BUS = f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/SalesEventBus"
QUEUE = f"arn:aws:sqs:us-west-2:{ACCOUNT}:marketing-sales"
RULE = f"arn:aws:events:us-west-2:{ACCOUNT}:rule/SalesEventBus/marketing-sales"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action="events:PutEvents", resource=SALES_BUS, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="events:PutEvents", resource=SALES_BUS, **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def when(operator: str, key: str, value) -> dict:
    return {"Condition": {operator: {key: value}}}
