"""Real-time analytics: what domains do with each other's events as they flow.

Every name below is imported from ``meshkit.analytics`` (``mk.analytics.simulate_sales``); the
modules say where each concern lives:

=================================  ==============================================================
``meshkit.analytics.simulator``    seeded sales with realistic shapes and injected fraud, the
                                   ground truth kept aside
``meshkit.analytics.streams``      Kinesis Data Streams: record events, and read them as Lambda's
                                   event source mapping does (shards, checkpoints, failures)
``meshkit.analytics.detectors``    the Fraud domain's detector: rolling windows per card and
                                   customer kept in DynamoDB, ``FraudSuspected`` events, scoring
                                   against the truth
``meshkit.analytics.domains``      the domains that react: CustomerSupport opens a case per
                                   suspicion, Marketing keeps sales per minute, each once
=================================  ==============================================================
"""

from __future__ import annotations

from . import detectors, domains, simulator, streams
from .detectors import *  # noqa: F403  (each module's __all__ is the public surface)
from .domains import *  # noqa: F403
from .simulator import *  # noqa: F403
from .streams import *  # noqa: F403

__all__ = [*simulator.__all__, *streams.__all__, *detectors.__all__, *domains.__all__]
