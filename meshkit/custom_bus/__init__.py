"""EventBridge's new Custom Event Bus (the ``eventbridgev2`` API): consumers subscribe themselves,
the bus retains events, delivery can be ordered per event group.

Every name below is imported from ``meshkit.custom_bus`` (``mk.custom_bus.check_request``); the
modules say where each concern lives:

=================================  ==============================================================
``meshkit.custom_bus.checks``      every request checked against the ``eventbridgev2`` service
                                   model before it is sent: lengths, ranges, enums, patterns,
                                   required and unknown members
``meshkit.custom_bus.buses``       a domain's bus with its retention, shared through AWS RAM
``meshkit.custom_bus.subscribers`` a consumer's subscriber: filter, target, retries, dead
                                   letters, starting position, order; pause, resume, revoke
``meshkit.custom_bus.planner``     the Classic mesh read from live state, planned as new buses
                                   and subscribers: requests and a CloudFormation template
``meshkit.custom_bus.target``      a client where the new bus can answer; refused on the
                                   embedded AWS before any call
=================================  ==============================================================

No emulator serves the ``eventbridgev2`` API offline: what these functions build is checked
offline and sent only to real AWS. Publishing is ``mk.events.publish`` with the bus's ARN.
"""

from __future__ import annotations

from . import buses, checks, planner, subscribers, target
from .buses import *  # noqa: F403  (each module's __all__ is the public surface)
from .checks import *  # noqa: F403
from .planner import *  # noqa: F403
from .subscribers import *  # noqa: F403
from .target import *  # noqa: F403

__all__ = [
    *buses.__all__,
    *checks.__all__,
    *planner.__all__,
    *subscribers.__all__,
    *target.__all__,
]
