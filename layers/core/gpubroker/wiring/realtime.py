"""The WebSocket routes (connection lifecycle, subscriptions, ping), the sweeper of silent connections, the price
broadcaster and its fan-out workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.config import (
    BroadcastSettings,
    ConnectionSettings,
    ConnectSettings,
    PosterSettings,
    SubscribeSettings,
    SweepSettings,
    load_settings,
)
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.ports import (
        Clock,
        ConnectionCloser,
        ConnectionPoster,
        ConnectionRepository,
        FanoutQueue,
        PriceFeed,
    )
    from gpubroker.services.identity import IdentityDeps
    from gpubroker.services.search import SnapshotCache


@dataclass(frozen=True)
class ConnectionDeps:
    """``$disconnect``: the connections table and a clock."""

    connections: ConnectionRepository
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def connection_deps() -> ConnectionDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository

    return ConnectionDeps(connections=DynamoConnectionRepository(load_settings(ConnectionSettings).CONNECTIONS_TABLE))


@dataclass(frozen=True)
class ConnectDeps:
    """``$connect``: the connections table, and what verifies a token - the REST authorizer's own check (the
    published keys, the token policy, the refresh families for revocation)."""

    connections: ConnectionRepository
    identity: IdentityDeps
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def connect_deps() -> ConnectDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository
    from gpubroker.wiring.auth import identity_deps

    s = load_settings(ConnectSettings)
    return ConnectDeps(connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE), identity=identity_deps(s))


@dataclass(frozen=True)
class DefaultRouteDeps:
    """``$default`` reads nothing but the message."""


@cache
def default_route_deps() -> DefaultRouteDeps:
    return DefaultRouteDeps()


@dataclass(frozen=True)
class PingDeps:
    """``ping``: the connections table (``last_seen``) and the clock the answer gives."""

    connections: ConnectionRepository
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def ping_deps() -> PingDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository

    return PingDeps(connections=DynamoConnectionRepository(load_settings(ConnectionSettings).CONNECTIONS_TABLE))


@dataclass(frozen=True)
class SweepDeps:
    """The sweeper: the connections table (read by a Scan in ``segments``), what closes a socket and how many at
    once, and the clock silence is measured by."""

    connections: ConnectionRepository
    closer: ConnectionCloser
    concurrency: int = 16
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def sweep_deps() -> SweepDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository
    from gpubroker.adapters.websocket import ApiGatewayConnectionPoster

    s = load_settings(SweepSettings)
    return SweepDeps(
        connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE, segments=s.SWEEP_SEGMENTS),
        closer=ApiGatewayConnectionPoster(s.WEBSOCKET_ENDPOINT, max_connections=s.BROADCAST_CONCURRENCY),
        concurrency=s.BROADCAST_CONCURRENCY,
    )


def _poster(s: PosterSettings) -> ConnectionPoster:
    from gpubroker.adapters.websocket import ApiGatewayConnectionPoster

    return ApiGatewayConnectionPoster(s.WEBSOCKET_ENDPOINT, max_connections=s.BROADCAST_CONCURRENCY)


@dataclass(frozen=True)
class SubscribeDeps:
    """``subscribe``: where the subscription is stored, the feed it replays, the snapshot it pages (whose registry
    also names the providers a filter may name), what posts the replies to the connection, and the clock."""

    connections: ConnectionRepository
    feed: PriceFeed
    snapshots: SnapshotCache
    poster: ConnectionPoster
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def subscribe_deps() -> SubscribeDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository
    from gpubroker.adapters.price_feed import DynamoPriceFeed

    s = load_settings(SubscribeSettings)
    return SubscribeDeps(
        connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE),
        feed=DynamoPriceFeed(s.PRICE_FEED_TABLE),
        snapshots=edge.snapshot_cache(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS),
        poster=_poster(s),
    )


@dataclass(frozen=True)
class BroadcastDeps:
    """The offers-table stream's broadcaster: the subscriptions, the feed that numbers changes, what posts to a
    connection and how many at once, the fan-out queue for large audiences (more than ``direct_limit``
    connections, ``chunk_size`` per chunk), and the clock that dates a record DynamoDB did not."""

    connections: ConnectionRepository
    poster: ConnectionPoster
    feed: PriceFeed
    fanout: FanoutQueue
    concurrency: int = 16
    direct_limit: int = 200
    chunk_size: int = 200
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def broadcast_deps() -> BroadcastDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository
    from gpubroker.adapters.fanout import SqsFanoutQueue
    from gpubroker.adapters.price_feed import DynamoPriceFeed

    s = load_settings(BroadcastSettings)
    return BroadcastDeps(
        connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE),
        poster=_poster(s),
        feed=DynamoPriceFeed(s.PRICE_FEED_TABLE),
        fanout=SqsFanoutQueue(s.FANOUT_QUEUE_URL),
        concurrency=s.BROADCAST_CONCURRENCY,
        direct_limit=s.FANOUT_DIRECT_LIMIT,
        chunk_size=s.FANOUT_CHUNK_SIZE,
    )


@dataclass(frozen=True)
class FanoutDeps:
    """A fan-out worker: what posts, how many connections at once, the connections table (gone ones are
    deleted), and the clock that tells a late chunk."""

    connections: ConnectionRepository
    poster: ConnectionPoster
    concurrency: int = 16
    clock: Clock = field(default_factory=edge.system_clock)


@cache
def fanout_deps() -> FanoutDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository

    s = load_settings(PosterSettings)
    return FanoutDeps(
        connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE),
        poster=_poster(s),
        concurrency=s.BROADCAST_CONCURRENCY,
    )
