"""The unit tier opens no network socket (STYLE.md, "Tests": unit = none; sockets off). Every test collected
under tests/unit carries pytest-socket's ``disable_socket`` marker: creating an internet socket, or resolving a
host name, raises ``SocketBlockedError`` and fails the test. Unix-domain sockets stay allowed (``addopts`` passes
``--allow-unix-socket``: asyncio's self-pipe is one; they never leave the machine). The other tiers keep the
network (moto server, redis-server, the local stack)."""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # a conftest's collection hook sees every collected item, not only this folder's: keep to tests/unit
    for item in items:
        if UNIT in item.path.resolve().parents:
            item.add_marker(pytest.mark.disable_socket)
