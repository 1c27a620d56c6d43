"""The audit log: a tamper-evident, hash-chained log split into independent shards.

Each shard is a chain: entry ``seq`` (0, 1, 2, ... without gaps) carries ``prev_hash`` (the ``hash`` of entry
``seq - 1``, or :data:`GENESIS` for seq 0) and ``hash = sha256(bytes.fromhex(prev_hash) || canonical(entry))``.
The chain alone detects an edited field, a deleted, reordered or inserted entry, but not somebody who rewrites an
entry and rehashes everything after it, nor a truncated tail. Those are caught by a signed :class:`Checkpoint`
``(shard, size, head, time)``, signed with a key the writer cannot use to rewrite history (KMS): the recomputed head
after ``size`` entries must equal the signed head. Entries appended after the newest checkpoint are verified by the
chain only, until the next checkpoint covers them.

Pure: no I/O, nothing of ours but the error taxonomy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring as _q  # the C escaper json.dumps(ensure_ascii=False) uses
from typing import Any

from gpubroker.domain.errors import DomainError, InvalidRequest, Unavailable

AUDIT_SHARDS = 8
"""Shards of the audit log: every writer, the checkpoint signer and the verifier must agree. Only ever grow it
(a shard that is no longer counted is no longer verified)."""
GENESIS = "0" * 64
"""The ``prev_hash`` of every shard's first entry (seq 0): a fixed, public constant (32 zero bytes in hex), so a
verifier needs nothing but the entries and the signed checkpoint to recompute the chain from its start."""

CHECKPOINT_TAG = "gpubroker.audit.checkpoint.v1"
"""Domain separation: a checkpoint signature can never be replayed as a signature of anything else."""
CHECKPOINT_TAG_V2 = "gpubroker.audit.checkpoint.v2"
"""A linked checkpoint (``prev`` signed too): another tag, so a v1 and a v2 message can never be the same bytes."""

ENTRY_FIELDS = ("shard", "seq", "ts", "actor", "action", "resource", "request_id", "outcome", "prev_hash")
"""What ``canonical`` hashes: every field of :class:`AuditEntry` except ``hash`` itself."""

_FIELD_SET = frozenset(ENTRY_FIELDS)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_HEX64 = frozenset("0123456789abcdef")


class AuditContention(Unavailable):
    """An append kept losing the race for its shard's next sequence slot (retry later, 503)."""

    code = "audit_contention"


class AuditTampered(DomainError):
    """The stored log no longer matches its chain or its signed checkpoint; nothing new is signed over it."""

    code = "audit_tampered"


def utc_iso(when: datetime) -> str:
    """``2025-01-31T12:00:00.000000Z``: fixed width, always UTC, so timestamps compare as strings."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: audit timestamps must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_utc(ts: str) -> None:
    if not ts.endswith("Z"):
        raise ValueError(f"timestamp must be UTC ending in 'Z': {ts!r}")
    datetime.fromisoformat(ts[:-1] + "+00:00")  # raises ValueError when malformed


def _check_hex64(name: str, value: str) -> None:
    if len(value) != 64 or not set(value) <= _HEX64:
        raise ValueError(f"{name} must be 64 lowercase hex digits")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit record. ``hash`` commits to every other field and, through ``prev_hash``, to all earlier entries.

    Stored entries are read back without re-validation of the chain (that is :func:`verify_shard`'s job); the
    constructor checks only the shapes that :func:`canonical` needs to be well defined.
    """

    shard: int
    seq: int
    ts: str
    actor: str
    action: str
    resource: str
    request_id: str
    outcome: str
    prev_hash: str
    hash: str

    def fields(self) -> dict[str, Any]:
        """The hashed fields (everything but ``hash``)."""
        return {name: getattr(self, name) for name in ENTRY_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def canonical(entry: AuditEntry | Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash commits to: compact JSON of exactly :data:`ENTRY_FIELDS`.

    Why this is unambiguous (two different field tuples never give the same bytes): JSON strings are quoted and
    every ``"`` and ``\\`` inside them is escaped, so no value can end early or spill into the next field; objects
    are self-delimiting; keys are sorted and the separators fixed (``,`` and ``:``, no whitespace), so the same
    fields always give the same bytes; ints are written in their one decimal form (``bool`` is refused so ``True``
    and ``1`` cannot collide); ``ensure_ascii=False`` keeps non-ASCII text as its UTF-8 bytes, and strict UTF-8
    encoding refuses lone surrogates, the only strings without a unique encoding. Unicode is not normalised: two
    differently-composed names are different entries, byte for byte, which is what an audit log should record.
    """
    if isinstance(entry, AuditEntry):
        e = entry
        return _encode(
            shard=e.shard,
            seq=e.seq,
            ts=e.ts,
            actor=e.actor,
            action=e.action,
            resource=e.resource,
            request_id=e.request_id,
            outcome=e.outcome,
            prev_hash=e.prev_hash,
        )
    fields = dict(entry)
    fields.pop("hash", None)
    if fields.keys() != _FIELD_SET:
        raise ValueError(f"audit entry fields must be exactly {ENTRY_FIELDS}, got {sorted(fields)}")
    return _encode(**{name: fields[name] for name in ENTRY_FIELDS})


def _encode(
    *,
    shard: Any,
    seq: Any,
    ts: Any,
    actor: Any,
    action: Any,
    resource: Any,
    request_id: Any,
    outcome: Any,
    prev_hash: Any,
) -> bytes:
    """Byte for byte ``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` (a test
    checks this), written out because ``json.dumps`` builds a new encoder per call and dominates verification."""
    if type(shard) is not int or type(seq) is not int or shard < 0 or seq < 0:  # exactly int: no bool
        raise ValueError("shard and seq must be non-negative ints")
    for value in (ts, actor, action, resource, request_id, outcome, prev_hash):
        if type(value) is not str:
            raise ValueError("audit entry text fields must be str")
    return (
        f'{{"action":{_q(action)},"actor":{_q(actor)},"outcome":{_q(outcome)},"prev_hash":{_q(prev_hash)},'
        f'"request_id":{_q(request_id)},"resource":{_q(resource)},"seq":{seq},"shard":{shard},"ts":{_q(ts)}}}'
    ).encode()


def chain_hash(prev_hash: str, entry: AuditEntry | Mapping[str, Any]) -> str:
    """``sha256(bytes.fromhex(prev_hash) || canonical(entry))`` as lowercase hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(entry)).hexdigest()


def make_entry(
    *,
    shard: int,
    seq: int,
    ts: str,
    actor: str,
    action: str,
    resource: str,
    request_id: str,
    outcome: str,
    prev_hash: str,
) -> AuditEntry:
    """A new, validated entry with its hash computed (the only way production code creates entries)."""
    _check_utc(ts)
    _check_hex64("prev_hash", prev_hash)
    if seq == 0 and prev_hash != GENESIS:
        raise ValueError("the first entry of a shard chains to GENESIS")
    fields: dict[str, Any] = {
        "shard": shard,
        "seq": seq,
        "ts": ts,
        "actor": actor,
        "action": action,
        "resource": resource,
        "request_id": request_id,
        "outcome": outcome,
        "prev_hash": prev_hash,
    }
    return AuditEntry(**fields, hash=chain_hash(prev_hash, fields))


def stamp(ts: str | datetime | None) -> str:
    """An append's timestamp: a given ISO string as is, a datetime in :func:`utc_iso` form, or now."""
    if isinstance(ts, datetime):
        return utc_iso(ts)
    return ts or utc_iso(datetime.now(UTC))


def next_entry(  # noqa: PLR0917 - the audit record's fields, in the order they are read aloud
    head: AuditEntry | None,
    shard: int,
    ts: str,
    actor: str,
    action: str,
    resource: str,
    request_id: str,
    outcome: str,
) -> AuditEntry:
    """The entry that follows ``head`` in ``shard`` (the first one, chained to GENESIS, when head is None)."""
    return make_entry(
        shard=shard,
        seq=0 if head is None else head.seq + 1,
        ts=ts,
        actor=actor,
        action=action,
        resource=resource,
        request_id=request_id,
        outcome=outcome,
        prev_hash=GENESIS if head is None else head.hash,
    )


def shard_for(key: str, shards: int) -> int:
    """A stable shard for ``key`` (same answer in every process and release: sha256, not ``hash()``)."""
    if shards < 1:
        raise ValueError("shards must be >= 1")
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % shards


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The signed anchor of a shard: after ``size`` entries (seq 0 .. size-1) the chain's head hash was ``head``.

    ``prev`` links the checkpoints of a shard into a chain of their own: the :func:`checkpoint_digest` of the
    shard's previous checkpoint (:data:`GENESIS` for its first). One verified signature on the newest checkpoint
    then vouches for every older one through the links, and a deleted or edited older checkpoint breaks a link.
    ``None``: a v1 checkpoint, signed before checkpoints were linked (accepted, unlinked).
    """

    shard: int
    size: int
    head: str
    time: str
    prev: str | None = None


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    signature: bytes
    key_id: str


@dataclass(frozen=True, slots=True)
class ArchivedCheckpoint:
    """One object version in the checkpoint archive (S3 Object Lock): the size its key names, and what it holds
    (None when it is not a checkpoint at all)."""

    size: int
    signed: SignedCheckpoint | None


def checkpoint_message(cp: Checkpoint) -> bytes:
    """The exact bytes that are signed: compact, key-sorted JSON with a domain-separation tag (unambiguous for the
    reasons given in :func:`canonical`); a linked checkpoint signs its ``prev`` too, under the v2 tag."""
    body: dict[str, Any] = {"tag": CHECKPOINT_TAG, "shard": cp.shard, "size": cp.size, "head": cp.head,
                            "time": cp.time}  # fmt: skip
    if cp.prev is not None:
        body.update(tag=CHECKPOINT_TAG_V2, prev=cp.prev)
    return _ENCODER.encode(body).encode("utf-8")


def checkpoint_digest(cp: Checkpoint) -> str:
    """What the next checkpoint's ``prev`` holds: sha256 of :func:`checkpoint_message`, lowercase hex."""
    return hashlib.sha256(checkpoint_message(cp)).hexdigest()


def link_fault(cp: Checkpoint, *, prev_size: int, prev_digest: str) -> str | None:
    """Why ``cp`` cannot follow the checkpoint of size ``prev_size`` and digest ``prev_digest`` (0 and
    :data:`GENESIS` before a shard's first), or None when it can. A v1 checkpoint (``prev`` None) is unlinked."""
    if cp.size <= prev_size:
        return f"checkpoint {cp.size} does not follow checkpoint {prev_size} (reordered)"
    if cp.prev is not None and cp.prev != prev_digest:
        return (
            f"checkpoint {cp.size} does not link to the checkpoint before it (size {prev_size}): a checkpoint was"
            " deleted or edited"
        )
    return None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    first_broken_seq: int | None = None
    reason: str | None = None


_OK = VerifyResult(ok=True)


def _entry_fault(entry: AuditEntry, *, expected: int, shard: int, prev: str) -> str | None:
    """Why ``entry`` cannot be seq ``expected`` of ``shard`` following ``prev``, or None when it can."""
    fault: str | None = None
    if entry.seq > expected:
        fault = f"seq {expected} is missing (found {entry.seq}): deleted or reordered"
    elif entry.seq < expected:
        fault = f"seq {entry.seq} found where seq {expected} belongs: duplicated, inserted or reordered"
    elif entry.shard != shard:
        fault = f"entry belongs to shard {entry.shard}, stored in shard {shard}"
    elif entry.prev_hash != prev:
        fault = "prev_hash does not match the previous entry's hash"
    else:
        try:
            if chain_hash(prev, entry) != entry.hash:
                fault = "hash does not match the entry's fields (edited)"
        except ValueError as exc:
            fault = f"entry cannot be hashed: {exc}"
    return fault


def _check_chain(
    entries: Sequence[AuditEntry], *, shard: int, start_seq: int, start_prev: str
) -> tuple[int | None, str | None]:
    """Walk the chain from ``start_seq`` (whose predecessor's hash is ``start_prev``); the first break, if any."""
    prev = start_prev
    for offset, entry in enumerate(entries):
        fault = _entry_fault(entry, expected=start_seq + offset, shard=shard, prev=prev)
        if fault is not None:
            return start_seq + offset, fault
        prev = entry.hash
    return None, None


def verify_shard(
    entries: Sequence[AuditEntry],
    checkpoint: Checkpoint | None,
    signature_ok: bool,
    *,
    shard: int | None = None,
) -> VerifyResult:
    """Verify one shard's entries (in stored order, from seq 0) against its newest signed checkpoint.

    ``signature_ok`` is whether the checkpoint's signature verified (the caller owns the key). Detected: an edited
    field, prev_hash or hash (at that entry's seq); a deleted entry (a gap, at the missing seq); a reordered,
    duplicated or inserted entry (at the first seq out of place); an edit followed by rehashing the rest of the
    chain (the head after ``checkpoint.size`` entries differs from the signed head: reported at ``size - 1``, the
    granularity of one checkpoint); a truncated tail (fewer than ``checkpoint.size`` entries, at the first missing
    seq); a checkpoint for another shard or with an invalid signature. Entries after ``checkpoint.size`` were
    appended after signing and are verified by the chain only. With no checkpoint, the chain only.
    """
    if shard is None:
        shard = checkpoint.shard if checkpoint is not None else (entries[0].shard if entries else 0)
    broken, reason = _check_chain(entries, shard=shard, start_seq=0, start_prev=GENESIS)
    if checkpoint is None:
        pass
    elif not signature_ok:
        reason = "checkpoint signature is invalid" + (f"; {reason}" if reason else "")
        return VerifyResult(False, broken, reason)
    elif checkpoint.shard != shard:
        return VerifyResult(False, broken, f"checkpoint is for shard {checkpoint.shard}, not {shard}")
    elif (broken is None or broken >= checkpoint.size) and len(entries) < checkpoint.size:
        broken, reason = len(entries), f"truncated: {len(entries)} entries, the checkpoint covers {checkpoint.size}"
    elif (broken is None or broken >= checkpoint.size) and checkpoint.head != (
        entries[checkpoint.size - 1].hash if checkpoint.size else GENESIS
    ):
        broken, reason = max(checkpoint.size - 1, 0), "head differs from the signed checkpoint (history rewritten)"
    return _OK if broken is None else VerifyResult(False, broken, reason)


@dataclass(slots=True)
class ChainWalk:
    """A resumable walk along one shard's chain: the next expected ``seq`` and its predecessor's hash ``prev``.

    :meth:`step` takes the next page of entries (in stored order) and the signed heads that fall inside it
    (``{size: head}``), and stops at the first fault. The verification kernel of ``GET /audit/verify``, in both its
    incremental form (from the newest trusted checkpoint) and its full one (from GENESIS).
    """

    shard: int
    seq: int = 0
    prev: str = GENESIS

    def step(self, entries: Sequence[AuditEntry], heads: Mapping[int, str]) -> tuple[int | None, str | None]:
        """Advance over ``entries``; the first broken seq and why, or ``(None, None)``."""
        for entry in entries:
            fault = _entry_fault(entry, expected=self.seq, shard=self.shard, prev=self.prev)
            if fault is not None:
                return self.seq, fault
            signed = heads.get(entry.seq + 1)
            if signed is not None and signed != entry.hash:
                return entry.seq, f"head differs from the signed checkpoint at size {entry.seq + 1} (history rewritten)"
            self.seq, self.prev = entry.seq + 1, entry.hash
        return None, None


def boundary_fault(entry: AuditEntry | None, cp: Checkpoint) -> str | None:
    """Why ``entry`` (the stored entry at seq ``cp.size - 1``, None when there is none) is not the one ``cp`` signed,
    or None. Lets a verifier start from a checkpoint reading one entry before it, not the whole shard."""
    if entry is None or entry.seq != cp.size - 1:
        return f"seq {cp.size - 1} is missing (deleted or reordered)"
    fault = _entry_fault(entry, expected=cp.size - 1, shard=cp.shard, prev=entry.prev_hash)
    if fault is not None:
        return fault
    if entry.hash != cp.head:
        return "head differs from the signed checkpoint (history rewritten)"
    return None


def verify_extension(entries: Sequence[AuditEntry], anchor: Checkpoint) -> VerifyResult:
    """Verify entries appended after a trusted checkpoint: they must start at seq ``anchor.size`` and chain to
    ``anchor.head``. Lets a new checkpoint be signed in O(new entries) without blessing a tampered tail."""
    broken, reason = _check_chain(entries, shard=anchor.shard, start_seq=anchor.size, start_prev=anchor.head)
    return _OK if broken is None else VerifyResult(False, broken, reason)


# ---- searching the log --------------------------------------------------------------------------------------------


class InvalidTimeRange(InvalidRequest):
    """A ``since``/``until`` of ``GET /audit`` that is not an ISO 8601 time with a zone (400)."""

    code = "invalid_time_range"


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """What ``GET /audit`` may ask for; every given condition must hold (AND). ``None``: no condition.

    - ``actor``, ``resource``, ``request_id``: exactly that value;
    - ``action``: that action or its family: ``auth`` matches ``auth.login`` and ``auth.mfa.enroll``, not ``author``;
    - ``outcome``: that outcome or a refinement of it: ``refused`` matches ``refused:401`` and
      ``refused:401:reused``, ``refused:401`` matches both of those, ``ok`` only ``ok``;
    - ``since`` (inclusive) / ``until`` (exclusive): :func:`utc_iso` strings, compared as strings (fixed width).
    """

    actor: str | None = None
    action: str | None = None
    resource: str | None = None
    request_id: str | None = None
    outcome: str | None = None
    since: str | None = None
    until: str | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, name) is not None for name in self.__slots__)

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (self.actor is None or entry.actor == self.actor)
            and (self.resource is None or entry.resource == self.resource)
            and (self.request_id is None or entry.request_id == self.request_id)
            and _in_family(entry.action, self.action, ".")
            and _in_family(entry.outcome, self.outcome, ":")
            and (self.since is None or entry.ts >= self.since)
            and (self.until is None or entry.ts < self.until)
        )


def _in_family(value: str, wanted: str | None, separator: str) -> bool:
    return wanted is None or value == wanted or value.startswith(wanted + separator)


def parse_bound(name: str, value: str | None) -> str | None:
    """A ``since``/``until`` query value (ISO 8601 with ``Z`` or an offset) as a :func:`utc_iso` string. Raises
    :class:`InvalidTimeRange` for a malformed or zone-less time (whose meaning would depend on the server)."""
    if value is None or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
        utc = when.astimezone(UTC) if when.tzinfo is not None else None
    except (ValueError, OverflowError) as exc:  # OverflowError: year 1 with a positive offset
        raise InvalidTimeRange(f"{name}: not an ISO 8601 time: {value!r}", details={"parameter": name}) from exc
    if utc is None:
        raise InvalidTimeRange(
            f"{name}: give the time zone ('Z' or an offset such as +02:00): {value!r}", details={"parameter": name}
        )
    if not 1970 <= utc.year <= 9999:  # the log's timestamps compare as fixed-width strings: 4-digit years only
        raise InvalidTimeRange(f"{name}: a year from 1970 to 9999: {value!r}", details={"parameter": name})
    return utc_iso(utc)


@dataclass(frozen=True, slots=True)
class EntrySearch:
    """One shard's answer to a filtered read: the matching entries in seq order, where to go on from (the last seq
    read, or the last entry returned when ``limit`` was reached), whether the shard was read to its end, and how
    many entries were read (matching or not)."""

    items: list[AuditEntry]
    after_seq: int | None
    done: bool
    read: int
