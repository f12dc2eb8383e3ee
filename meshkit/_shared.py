"""What meshkit's modules share: ownership tags, AWS error codes, the check that a bus exists.

One home, imported by these public names, so that no module reaches into another's private
helpers (a test walks the package to keep it so).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .exceptions import MeshkitError, NotMeshkitResourceError, ValidationError

WORKBOOK_TAG = "meshkit:workbook"  # value "true": meshkit created (or adopted) it
DOMAIN_TAG = "meshkit:domain"
OWNER_TAG = "meshkit:owner"
ADOPTED_TAG = "meshkit:adopted"  # value "true": it existed before meshkit; never deleted unforced


class UnknownBusError(ValidationError):
    """The bus does not exist. AWS would accept the events and silently drop them."""


def tag_map(domain: str, owner: str | None = None) -> dict[str, str]:
    """The tags of everything meshkit makes for a domain (owner: ``<domain>-team`` by default)."""
    return {WORKBOOK_TAG: "true", DOMAIN_TAG: domain, OWNER_TAG: owner or f"{domain}-team"}


def domain_tags(domain: str, owner: str | None = None) -> list[dict[str, str]]:
    """``tag_map`` in the ``[{"Key": ..., "Value": ...}]`` form most AWS APIs take."""
    return [{"Key": tag, "Value": value} for tag, value in tag_map(domain, owner).items()]


def eventbridge_tags(events: Any, arn: str) -> dict[str, str]:
    """The tags of an EventBridge resource (a bus or a rule), as a dict."""
    return {
        tag["Key"]: tag["Value"] for tag in events.list_tags_for_resource(ResourceARN=arn)["Tags"]
    }


def error_code(err: ClientError) -> str:
    """AWS's error code of a failed call, e.g. ``"ResourceNotFoundException"`` ("" if none)."""
    return str(err.response.get("Error", {}).get("Code", ""))


def check_bus_exists(events: Any, bus: str) -> None:
    """Refuse, before sending, a bus that does not exist (AWS would drop the events silently).

    Asked every time, never cached: a bus can be deleted at any moment by anyone, and meshkit
    cannot know when (``publish`` calls this once per call, and again during a long one).
    """
    try:
        events.describe_event_bus(Name=bus)
    except ClientError as err:
        code = error_code(err)
        if code in ("AccessDeniedException", "AccessDenied"):
            raise MeshkitError(
                f"cannot check that event bus {bus!r} exists: events:DescribeEventBus is denied. "
                "Allow it, or publish with check_bus=False (then a missing bus drops events)"
            ) from err
        if code != "ResourceNotFoundException":
            raise
        raise UnknownBusError(
            f"event bus {bus!r} does not exist in {events.meta.region_name}: create it with "
            "mk.buses.create_domain_bus(...) first (AWS would accept these events and drop them)"
        ) from err


def check_owner(tags: Mapping[str, str], *, what: str, domain: str, fix: str) -> None:
    """Refuse a resource meshkit did not make for ``domain``, as its tags say.

    ``fix`` finishes the message: what the caller can do instead (another name, say).
    """
    if tags.get(WORKBOOK_TAG) != "true":
        raise NotMeshkitResourceError(
            f"{what} exists but meshkit did not create it (no {WORKBOOK_TAG}=true tag), so "
            f"meshkit will not change it: {fix}, or tag it yourself ({WORKBOOK_TAG}=true, "
            f"{DOMAIN_TAG}={domain}) to let meshkit manage it"
        )
    if tags.get(DOMAIN_TAG) != domain:
        owner = str(tags.get(DOMAIN_TAG))[:80]
        raise NotMeshkitResourceError(f"{what} belongs to domain {owner!r}, not {domain!r}: {fix}")
