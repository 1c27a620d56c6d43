"""Small secrets sealed under a KMS symmetric key (the TOTP secrets on the account profiles).

``Encrypt`` takes up to 4 KB, so a TOTP secret (32 base32 characters) needs no data key: one call seals it, one
opens it. Every seal is bound to an encryption context (``purpose`` and the account), so a sealed value copied
onto another account's profile does not open, and the context appears in CloudTrail for each use.
"""

from __future__ import annotations

import base64

from gpubroker.adapters.aws import client


class KmsSecretBox:
    def __init__(self, key_id: str, purpose: str) -> None:
        self.key_id = key_id
        self.purpose = purpose

    def _context(self, owner: str) -> dict[str, str]:
        return {"purpose": self.purpose, "owner": owner}

    def seal(self, plaintext: str, owner: str) -> str:
        blob = client("kms").encrypt(KeyId=self.key_id, Plaintext=plaintext.encode(),
                                     EncryptionContext=self._context(owner))["CiphertextBlob"]  # fmt: skip
        return base64.b64encode(bytes(blob)).decode()

    def open(self, sealed: str, owner: str) -> str:
        """The plaintext; raises (KMS ``InvalidCiphertextException``) for another owner's or a tampered value."""
        out = client("kms").decrypt(CiphertextBlob=base64.b64decode(sealed), KeyId=self.key_id,
                                    EncryptionContext=self._context(owner))["Plaintext"]  # fmt: skip
        return bytes(out).decode()
