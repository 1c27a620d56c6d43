"""Account mail through Amazon SES (API v2 ``SendEmail``, simple content, plain text, UTF-8).

The sender is a verified SES identity (template.yaml ``MailSenderIdentity``). On the local stack the same call goes
to moto, which keeps the message as SES would (and refuses an unverified sender as SES does); the local stack's
moto process also writes each message to the outbox folder a developer reads (infra/local/moto_server.py).
"""

from __future__ import annotations

from gpubroker.adapters.aws import client
from gpubroker.domain.errors import MailUnavailable


class SesMailer:
    def __init__(self, sender: str) -> None:
        self.sender = sender

    def send(self, to: str, subject: str, text: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client("sesv2").send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [to]},
                Content={"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"},
                                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}}}},
            )  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise MailUnavailable("the mail could not be sent; try again later", details={"reason": code}) from exc
