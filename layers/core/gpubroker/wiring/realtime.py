"""The WebSocket routes (connection lifecycle, subscriptions, ping) and the price broadcaster."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.config import BroadcastSettings, ConnectionSettings, SubscribeSettings, load_settings
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.ports import Clock, ConnectionPoster, ConnectionRepository, SnapshotReader


@dataclass(frozen=True)
class ConnectionDeps:
    """``$connect``, ``$disconnect`` and ``subscribe``: the connections table and a clock."""

    connections: ConnectionRepository
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def connection_deps() -> ConnectionDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository

    return ConnectionDeps(connections=DynamoConnectionRepository(load_settings(ConnectionSettings).CONNECTIONS_TABLE))


@dataclass(frozen=True, kw_only=True)
class SubscribeDeps(ConnectionDeps):
    """``subscribe``: also the snapshot manifest, whose registry names the providers a filter may name."""

    snapshots: SnapshotReader


@cache
def subscribe_deps() -> SubscribeDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository
    from gpubroker.adapters.s3_snapshots import S3SnapshotStore

    s = load_settings(SubscribeSettings)
    return SubscribeDeps(
        connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE), snapshots=S3SnapshotStore(s.SNAPSHOT_BUCKET)
    )


@dataclass(frozen=True)
class PingDeps:
    clock: Clock


@cache
def ping_deps() -> PingDeps:
    return PingDeps(clock=edge.system_clock())


@dataclass(frozen=True)
class BroadcastDeps:
    """The offers-table stream's broadcaster: the subscriptions, what posts to a connection, how many at once, and
    the clock that dates a record DynamoDB did not."""

    connections: ConnectionRepository
    poster: ConnectionPoster
    concurrency: int = 16
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def broadcast_deps() -> BroadcastDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository
    from gpubroker.adapters.websocket import ApiGatewayConnectionPoster

    s = load_settings(BroadcastSettings)
    return BroadcastDeps(
        connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE),
        poster=ApiGatewayConnectionPoster(s.WEBSOCKET_ENDPOINT, max_connections=s.BROADCAST_CONCURRENCY),
        concurrency=s.BROADCAST_CONCURRENCY,
    )
