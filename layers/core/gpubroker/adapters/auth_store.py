"""Users and refresh-token families in one DynamoDB table (``pk``, ``sk``; ``expires_at`` is the TTL attribute).

Items: ``USER#<email>/PROFILE`` (the account), ``FAMILY#<id>/FAMILY`` (a session: user, end, revoked),
``RT#<jti>/RT`` (one refresh token: family, spent). Creating a user and spending a token are conditional writes.
The index ``ByUserId`` (``user_id``, ``sk``; keys only) finds a profile from the id a Principal carries, and a
user's session families (``sk = FAMILY``: a password reset revokes them all).

Account lifecycle, on the profile: ``email_verified`` (BOOL), ``reset_jti`` and ``reset_expires_at`` (the one live
password-reset link: a reset is ``SET password_hash ... REMOVE reset_jti`` under ``reset_jti = :jti``, so a link
works once, and a newer link supersedes it), ``roles`` (SS; an operator's ``ADD``).

MFA (``DynamoMfaStore``): on the profile ``mfa_pending_secret``, ``mfa_secret``, ``mfa_enabled``,
``mfa_last_step`` (N) and ``recovery_hashes`` (SS); the two secrets are sealed under a KMS key bound to the account
(``SecretBox``: a read of the table alone yields no TOTP secret), and ``mfa_pending_digest`` (SHA-256 of the
pending secret, 160 random bits: not reversible) is what activation's condition compares. Challenges are
``MFA#<id>/CHALLENGE`` items (kind, user, attempts, ``expires_at``). Using a TOTP step is ``SET mfa_last_step``
under ``mfa_last_step < :step``, using a recovery code a ``DELETE`` from the set under ``contains``: of concurrent
requests with one code exactly one wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from gpubroker.adapters.aws import client, conditional_check_failed
from gpubroker.domain.accounts import User
from gpubroker.domain.mfa import Challenge, MfaState

USER_ID_INDEX = "ByUserId"


class DynamoUserStore:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def create(self, user: User) -> bool:
        item: dict[str, Any] = {
            "pk": {"S": f"USER#{user.email}"},
            "sk": {"S": "PROFILE"},
            "user_id": {"S": user.user_id},
            "email": {"S": user.email},
            "password_hash": {"S": user.password_hash},
            "plan": {"S": user.plan},
            "roles": {"SS": list(user.roles)},
            "mfa_enabled": {"BOOL": user.mfa_enabled},
            "email_verified": {"BOOL": user.email_verified},
        }
        try:
            client("dynamodb").put_item(TableName=self.table_name, Item=item,
                                        ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def by_email(self, email: str) -> User | None:
        got = client("dynamodb").get_item(
            TableName=self.table_name, Key={"pk": {"S": f"USER#{email}"}, "sk": {"S": "PROFILE"}}, ConsistentRead=True
        )
        item = got.get("Item")
        if not item:
            return None
        return User(
            user_id=item["user_id"]["S"],
            email=item["email"]["S"],
            password_hash=item["password_hash"]["S"],
            plan=item.get("plan", {}).get("S", "free"),
            roles=tuple(sorted(item.get("roles", {}).get("SS", ["user"]))),
            mfa_enabled=item.get("mfa_enabled", {}).get("BOOL", False),
            email_verified=item.get("email_verified", {}).get("BOOL", False),
        )

    def by_id(self, user_id: str) -> User | None:
        got = client("dynamodb").query(
            TableName=self.table_name,
            IndexName=USER_ID_INDEX,
            KeyConditionExpression="user_id = :u AND sk = :p",
            ExpressionAttributeValues={":u": {"S": user_id}, ":p": {"S": "PROFILE"}},
        )
        for item in got.get("Items", []):
            user = self.by_email(item["pk"]["S"].removeprefix("USER#"))
            if user is not None and user.user_id == user_id:
                return user
        return None

    def _conditional_update(self, email: str, **kwargs: Any) -> bool:
        try:
            client("dynamodb").update_item(TableName=self.table_name, Key=_profile_key(email), **kwargs)
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def mark_email_verified(self, email: str, user_id: str) -> bool:
        return self._conditional_update(
            email, UpdateExpression="SET email_verified = :t", ConditionExpression="user_id = :u",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":u": {"S": user_id}},
        )  # fmt: skip

    def set_reset_link(self, email: str, jti: str, expires_at: int) -> bool:
        return self._conditional_update(
            email, UpdateExpression="SET reset_jti = :j, reset_expires_at = :e",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":j": {"S": jti}, ":e": {"N": str(expires_at)}},
        )  # fmt: skip

    def reset_password(self, email: str, user_id: str, jti: str, password_hash: str) -> bool:
        return self._conditional_update(
            email,
            UpdateExpression="SET password_hash = :h, email_verified = :t REMOVE reset_jti, reset_expires_at",
            ConditionExpression="user_id = :u AND reset_jti = :j",
            ExpressionAttributeValues={":h": {"S": password_hash}, ":t": {"BOOL": True}, ":u": {"S": user_id},
                                       ":j": {"S": jti}},
        )  # fmt: skip

    def grant_role(self, email: str, role: str) -> bool:
        return self._conditional_update(
            email, UpdateExpression="ADD #r :r", ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#r": "roles"}, ExpressionAttributeValues={":r": {"SS": [role]}},
        )  # fmt: skip


def _profile_key(email: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{email}"}, "sk": {"S": "PROFILE"}}


class DynamoRefreshStore:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def start_family(self, family: str, user_id: str, expires_at: int) -> None:
        client("dynamodb").put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": f"FAMILY#{family}"},
                "sk": {"S": "FAMILY"},
                "user_id": {"S": user_id},
                "revoked": {"BOOL": False},
                "expires_at": {"N": str(expires_at)},
            },
        )

    def add(self, jti: str, family: str, expires_at: int) -> None:
        client("dynamodb").put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": f"RT#{jti}"},
                "sk": {"S": "RT"},
                "family": {"S": family},
                "spent": {"BOOL": False},
                "expires_at": {"N": str(expires_at)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def spend(self, jti: str) -> bool:
        try:
            client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"RT#{jti}"}, "sk": {"S": "RT"}},
                UpdateExpression="SET spent = :t",
                ConditionExpression="attribute_exists(pk) AND spent = :f",
                ExpressionAttributeValues={":t": {"BOOL": True}, ":f": {"BOOL": False}},
            )
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def revoke_family(self, family: str) -> None:
        client("dynamodb").update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"FAMILY#{family}"}, "sk": {"S": "FAMILY"}},
            UpdateExpression="SET revoked = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    def family_revoked(self, family: str) -> bool:
        got = client("dynamodb").get_item(
            TableName=self.table_name, Key={"pk": {"S": f"FAMILY#{family}"}, "sk": {"S": "FAMILY"}},
            ConsistentRead=True,
        )  # fmt: skip
        item = got.get("Item")
        return item is None or bool(item.get("revoked", {}).get("BOOL", False))

    def families_of(self, user_id: str) -> list[str]:
        families: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "IndexName": USER_ID_INDEX,
            "KeyConditionExpression": "user_id = :u AND sk = :f",
            "ExpressionAttributeValues": {":u": {"S": user_id}, ":f": {"S": "FAMILY"}},
        }  # fmt: skip
        while True:
            got = client("dynamodb").query(**kwargs)
            families += [item["pk"]["S"].removeprefix("FAMILY#") for item in got.get("Items", [])]
            if "LastEvaluatedKey" not in got:
                return families
            kwargs["ExclusiveStartKey"] = got["LastEvaluatedKey"]


class SecretBox(Protocol):
    def seal(self, plaintext: str, owner: str) -> str: ...

    def open(self, sealed: str, owner: str) -> str: ...


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class DynamoMfaStore:
    """MFA state on the profile item and the challenge items; see the module docstring."""

    def __init__(self, table_name: str, box: SecretBox) -> None:
        self.table_name = table_name
        self.box = box

    @staticmethod
    def _profile(email: str) -> dict[str, Any]:
        return {"pk": {"S": f"USER#{email}"}, "sk": {"S": "PROFILE"}}

    @staticmethod
    def _challenge(challenge_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"MFA#{challenge_id}"}, "sk": {"S": "CHALLENGE"}}

    def _conditional(self, op: str, **kwargs: Any) -> bool:
        try:
            getattr(client("dynamodb"), op)(TableName=self.table_name, **kwargs)
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def state(self, email: str) -> MfaState | None:
        got = client("dynamodb").get_item(TableName=self.table_name, Key=self._profile(email), ConsistentRead=True)
        item = got.get("Item")
        if not item:
            return None
        last = item.get("mfa_last_step", {}).get("N")
        sealed, pending = item.get("mfa_secret", {}).get("S"), item.get("mfa_pending_secret", {}).get("S")
        return MfaState(
            enabled=item.get("mfa_enabled", {}).get("BOOL", False),
            secret=self.box.open(sealed, email) if sealed else None,
            pending_secret=self.box.open(pending, email) if pending else None,
            last_step=int(last) if last is not None else None,
            recovery_hashes=frozenset(item.get("recovery_hashes", {}).get("SS", [])),
        )

    def set_pending_secret(self, email: str, secret: str) -> bool:
        return self._conditional(
            "update_item",
            Key=self._profile(email),
            UpdateExpression="SET mfa_pending_secret = :s, mfa_pending_digest = :d",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(mfa_enabled) OR mfa_enabled = :f)",
            ExpressionAttributeValues={
                ":s": {"S": self.box.seal(secret, email)},
                ":d": {"S": _digest(secret)},
                ":f": {"BOOL": False},
            },
        )

    def activate(self, email: str, secret: str, step: int, recovery_hashes: Sequence[str]) -> bool:
        return self._conditional(
            "update_item",
            Key=self._profile(email),
            UpdateExpression="SET mfa_secret = :s, mfa_enabled = :t, mfa_last_step = :step, recovery_hashes = :h "
            "REMOVE mfa_pending_secret, mfa_pending_digest",
            ConditionExpression="mfa_pending_digest = :d AND (attribute_not_exists(mfa_enabled) OR mfa_enabled = :f) "
            "AND (attribute_not_exists(mfa_last_step) OR mfa_last_step < :step)",
            ExpressionAttributeValues={":s": {"S": self.box.seal(secret, email)}, ":d": {"S": _digest(secret)},
                                       ":t": {"BOOL": True}, ":f": {"BOOL": False},
                                       ":step": {"N": str(step)}, ":h": {"SS": list(recovery_hashes)}},
        )  # fmt: skip

    def advance_step(self, email: str, step: int) -> bool:
        return self._conditional(
            "update_item",
            Key=self._profile(email),
            UpdateExpression="SET mfa_last_step = :step",
            ConditionExpression="mfa_enabled = :t AND (attribute_not_exists(mfa_last_step) OR mfa_last_step < :step)",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":step": {"N": str(step)}},
        )

    def consume_recovery_code(self, email: str, code_hash: str) -> bool:
        return self._conditional(
            "update_item",
            Key=self._profile(email),
            UpdateExpression="DELETE recovery_hashes :h",
            ConditionExpression="mfa_enabled = :t AND contains(recovery_hashes, :hv)",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":h": {"SS": [code_hash]}, ":hv": {"S": code_hash}},
        )

    def put_challenge(self, challenge: Challenge) -> None:
        client("dynamodb").put_item(
            TableName=self.table_name,
            Item={
                **self._challenge(challenge.challenge_id),
                "kind": {"S": challenge.kind},
                "user_id": {"S": challenge.user_id},
                "email": {"S": challenge.email},
                "attempts": {"N": str(challenge.attempts)},
                "expires_at": {"N": str(challenge.expires_at)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def challenge(self, challenge_id: str) -> Challenge | None:
        got = client("dynamodb").get_item(
            TableName=self.table_name, Key=self._challenge(challenge_id), ConsistentRead=True
        )
        item = got.get("Item")
        if not item or item["kind"]["S"] not in {"enroll", "login"}:
            return None
        return Challenge(
            challenge_id=challenge_id,
            kind="enroll" if item["kind"]["S"] == "enroll" else "login",
            user_id=item["user_id"]["S"],
            email=item["email"]["S"],
            expires_at=int(item["expires_at"]["N"]),
            attempts=int(item.get("attempts", {}).get("N", "0")),
        )

    def count_attempt(self, challenge_id: str, max_attempts: int, now: int) -> bool:
        return self._conditional(
            "update_item",
            Key=self._challenge(challenge_id),
            UpdateExpression="ADD attempts :one",
            ConditionExpression="attribute_exists(pk) AND attempts < :max AND expires_at > :now",
            ExpressionAttributeValues={":one": {"N": "1"}, ":max": {"N": str(max_attempts)},
                                       ":now": {"N": str(now)}},
        )  # fmt: skip

    def disable(self, email: str) -> bool:
        return self._conditional(
            "update_item",
            Key=self._profile(email),
            UpdateExpression="SET mfa_enabled = :f REMOVE mfa_secret, mfa_pending_secret, mfa_pending_digest, "
            "recovery_hashes",
            ConditionExpression="mfa_enabled = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":f": {"BOOL": False}},
        )

    def replace_recovery_codes(self, email: str, recovery_hashes: Sequence[str]) -> bool:
        return self._conditional(
            "update_item",
            Key=self._profile(email),
            UpdateExpression="SET recovery_hashes = :h",
            ConditionExpression="mfa_enabled = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}, ":h": {"SS": list(recovery_hashes)}},
        )

    def spend_challenge(self, challenge_id: str) -> bool:
        return self._conditional(
            "delete_item", Key=self._challenge(challenge_id), ConditionExpression="attribute_exists(pk)"
        )
