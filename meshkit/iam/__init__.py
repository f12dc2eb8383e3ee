"""Governance: least-privilege policies per domain, resource policies, and checking what they allow.

A data mesh federates governance: each domain owns its bus and queues, and the platform sets the
rules every domain's access follows. This package writes those rules as IAM documents, puts them
on AWS, and checks what they allow. Every name below is imported from ``meshkit.iam``
(``mk.iam.bus_policy``); the modules say where each concern lives:

=========================  ======================================================================
``meshkit.iam.policies``   the documents: identity policies (a domain's producer may publish its
                           own events on its own bus, a consumer may read its own queues, the
                           platform team administers the mesh), trust policies and a bus's
                           resource policy; ``queue_policy`` (a queue that admits EventBridge for
                           one rule) comes from ``meshkit.subscriptions``
``meshkit.iam.apply``      putting them on AWS: ``create_domain_role``, ``assume_role``,
                           ``attach_bus_policy`` (only on what meshkit made; others' statements
                           are never dropped silently)
``meshkit.iam.access``     ``check_access``: would these policies allow this action on this
                           resource, and which statement decided? On real AWS IAM's policy
                           simulator answers; offline an evaluator that follows AWS's documented
                           evaluation logic (``meshkit.iam._evaluator``), because moto enforces
                           IAM only in part (it ignores conditions, treats every EventBridge
                           resource as ``*`` and never enforces resource policies);
                           ``access_grid`` asks it for a whole grid, as a DataFrame
``meshkit.iam.linting``    ``lint``: parliament's checks plus the mesh's own rules, as a DataFrame
``meshkit.iam.enforcing``  ``enforcement``: moto's IAM enforcement switched on for a block, with a
                           user per domain
=========================  ======================================================================

The modules are not named after the functions they hold (``lint``, ``enforcement``), so that
``mk.iam.lint`` is always the function.
"""

from __future__ import annotations

from ..subscriptions import queue_policy  # a queue's resource policy; re-exported for governance
from ._evaluator import MalformedPolicyError, UnknownResourceAccountError, UnsupportedConditionError
from .access import AccessDecision, access_grid, check_access
from .apply import ForeignStatementsError, assume_role, attach_bus_policy, create_domain_role
from .enforcing import TooManyAccessKeysError, enforcement
from .linting import lint
from .policies import (
    DomainQueuesNotFoundError,
    article_policy,
    bus_policy,
    consumer_policy,
    platform_admin_policy,
    producer_policy,
    trust_policy,
)

__all__ = [
    "AccessDecision",
    "DomainQueuesNotFoundError",
    "ForeignStatementsError",
    "MalformedPolicyError",
    "TooManyAccessKeysError",
    "UnknownResourceAccountError",
    "UnsupportedConditionError",
    "access_grid",
    "article_policy",
    "assume_role",
    "attach_bus_policy",
    "bus_policy",
    "check_access",
    "consumer_policy",
    "create_domain_role",
    "enforcement",
    "lint",
    "platform_admin_policy",
    "producer_policy",
    "queue_policy",
    "trust_policy",
]
