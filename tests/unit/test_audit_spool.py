"""services.audit.replay_spooled with in-memory ports: what the checkpoint function does with the entries that a
failing audit log left in the spool (the handlers' side: tests/component/test_audit_handlers.py)."""

from __future__ import annotations

from gpubroker.services.audit import replay_spooled
from tests.fakes_audit import FailingLog, MemoryAuditLog, MemorySpool


def test_replay_leaves_an_entry_whose_append_fails_again_in_the_spool() -> None:
    spool = MemorySpool()
    for i in range(3):
        spool.put({"ts": "2025-03-01T12:00:00.000000Z", "actor": "anon:1.2.3.4", "action": "auth.login",
                   "resource": "/auth/login", "request_id": f"r{i}", "outcome": "ok"})  # fmt: skip
    assert replay_spooled(FailingLog(), spool) == 0 and len(spool.messages) == 3
    spool.taken.clear()  # the visibility timeout has passed
    assert replay_spooled(MemoryAuditLog(), spool, limit=2) == 2 and len(spool.messages) == 1
