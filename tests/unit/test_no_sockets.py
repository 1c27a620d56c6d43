"""The unit tier's network guard (tests/unit/conftest.py) is really on."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError

pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")  # the point of the test


def test_a_unit_test_cannot_open_an_internet_socket() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 6379), timeout=0.1)  # the Redis every machine runs


def test_a_unit_test_cannot_resolve_a_host_name() -> None:
    with pytest.raises(SocketBlockedError):
        socket.getaddrinfo("localhost", 80)


def test_a_unix_socket_pair_still_works() -> None:
    """asyncio's self-pipe is a Unix socket pair: allowed, it never leaves the machine."""
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"x")
        assert b.recv(1) == b"x"
