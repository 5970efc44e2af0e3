"""The events an upgrade machine reports through ``next_event()``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from ._native import PeerId

__all__ = ["SecurityAgreed", "RemoteIdentified", "UpgradeComplete", "Event"]


@dataclass(frozen=True)
class SecurityAgreed:
    """multistream-select agreed on a security protocol (its id: ``"/noise"``,
    ``"/tls/1.0.0"``, ``"/secio/1.0.0"``)."""

    security: str


@dataclass(frozen=True)
class RemoteIdentified:
    """The remote proved its identity in the handshake."""

    peer_id: PeerId


@dataclass(frozen=True)
class UpgradeComplete:
    """The upgrade is complete: take the channel with ``into_channel()``."""


Event = Union[SecurityAgreed, RemoteIdentified, UpgradeComplete]
"""Any upgrade event."""
