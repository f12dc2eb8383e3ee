"""The live mesh, operated: what exists, what is risky, the mesh as code, replay, teardown, cost.

Every name below is imported from ``meshkit.mesh`` (``mk.mesh.discover``); the modules say where
each concern lives:

============================  =================================================================
``meshkit.mesh.archives``     a domain's events archived, and replayed into a consumer that
                              joins late (``replay``; refused offline where moto would not
                              honour the window or the rules)
``meshkit.mesh.model``        ``discover``: buses, rules, targets, queues, DLQs, policies, tags
                              and archives read from AWS into one ``Mesh``; its picture and
                              DataFrames
``meshkit.mesh.linting``      ``lint``: the mesh's governance rules over that model, one finding
                              per row with its severity, the resource, why and the fix
``meshkit.mesh.stacks``       the mesh as CloudFormation (one stack per domain), checked with
                              cfn-lint, deployed with change sets, checked once deployed
``meshkit.mesh.removal``      ``teardown``: everything meshkit tagged, in dependency order, with
                              a dry run and a check that nothing tagged remains
``meshkit.mesh.cost``         ``estimate``: a workload's monthly cost from a dated price table
============================  =================================================================

The modules are not named after the functions they hold, so that ``mk.mesh.discover`` is always
the function.
"""

from __future__ import annotations

from . import archives, cost, linting, model, removal, stacks
from .archives import *  # noqa: F403
from .cost import *  # noqa: F403
from .linting import *  # noqa: F403
from .model import *  # noqa: F403
from .removal import *  # noqa: F403
from .stacks import *  # noqa: F403

__all__ = [
    *archives.__all__,
    *cost.__all__,
    *linting.__all__,
    *model.__all__,
    *removal.__all__,
    *stacks.__all__,
]
