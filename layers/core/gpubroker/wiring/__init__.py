"""The composition root: the one place where adapters are built and handed to services.

Every function's ``Deps`` (its ports, as typed dataclasses) and ``default_deps`` factory live here, one module per
area: ``edge`` (what every API function shares: the front door, the audit trail, a clock), ``offers`` (search,
catalog, history, market, ingestion), ``math`` (KPIs, rankings, presets, personalisation), ``auth`` (accounts,
tokens, the authorizer, key rotation), ``audit`` (the log's readers and the checkpoint) and ``realtime`` (the
WebSocket routes and the price broadcaster). A handler names its ``Deps`` and passes the factory to ``api_handler``
(or calls it in its ``lambda_handler``); tests pass ``Deps`` built from in-memory fakes instead.

Factories are cached per container and build on first use, never at import: adapters (and boto3, Redis, PyJWT)
are imported inside them, so a function's cold import pays only for the dataclasses. Nothing outside this package
builds an adapter (a contract test holds to it).
"""
