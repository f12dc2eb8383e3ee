"""meshkit: the self-serve platform of an event-driven data mesh on AWS.

One module per concern, in the order the notebooks teach them::

    import meshkit as mk

    target = mk.sandbox.start()                # embedded moto, an endpoint, or real AWS
    arn = mk.buses.create_domain_bus("sales")  # the Sales domain's SalesEventBus
    result = mk.events.publish("SalesEventBus", events)
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern={...})
    summary = mk.consumers.run(handler, sub.queue_url)
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from . import (
    analytics,
    buses,
    consumers,
    contracts,
    custom_bus,
    events,
    exceptions,
    faults,
    iam,
    mesh,
    patterns,
    producers,
    products,
    sales,
    sandbox,
    subscriptions,
)
from .exceptions import MeshkitError

try:
    __version__ = version("meshkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "MeshkitError",
    "__version__",
    "analytics",
    "buses",
    "consumers",
    "contracts",
    "custom_bus",
    "events",
    "exceptions",
    "faults",
    "iam",
    "mesh",
    "patterns",
    "producers",
    "products",
    "sales",
    "sandbox",
    "subscriptions",
]
