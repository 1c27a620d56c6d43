"""Users and refresh-token families in one DynamoDB table (``pk``, ``sk``; ``expires_at`` is the TTL attribute).

Items: ``USER#<email>/PROFILE`` (the account), ``FAMILY#<id>/FAMILY`` (a session: user, end, revoked),
``RT#<jti>/RT`` (one refresh token: family, spent). Creating a user and spending a token are conditional writes.
"""

from __future__ import annotations

from typing import Any

from gpubroker.adapters.aws import client
from gpubroker.domain.accounts import User


def _conditional_failed(exc: Exception) -> bool:
    return bool(getattr(exc, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException")


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
        }
        try:
            client("dynamodb").put_item(TableName=self.table_name, Item=item,
                                        ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
        except Exception as exc:
            if _conditional_failed(exc):
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
            mfa_secret=item.get("mfa_secret", {}).get("S"),
            mfa_enabled=item.get("mfa_enabled", {}).get("BOOL", False),
        )


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
            if _conditional_failed(exc):
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
