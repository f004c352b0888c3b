"""Standard Webhooks signatures: the spec's published test vector, rotation, secrets."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from crm_devstack.webhook_receiver import signatures_valid_for
from crm_messaging.webhooks.signing import SecretBox, generate_secret, sign, signature_header

pytestmark = pytest.mark.unit

# From the Standard Webhooks reference implementations (standardwebhooks.com).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class TestSignature:
    def test_reproduces_the_spec_test_vector(self) -> None:
        signature = sign(
            VECTOR_SECRET, message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
        )
        assert signature == VECTOR_SIGNATURE

    def test_a_changed_byte_changes_the_signature(self) -> None:
        signature = sign(
            VECTOR_SECRET, message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY + b" "
        )
        assert signature != VECTOR_SIGNATURE

    def test_during_rotation_both_secrets_sign_new_first(self) -> None:
        new, old = generate_secret(), VECTOR_SECRET
        header = signature_header(
            [new, old], message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
        )
        first, second = header.split(" ")
        assert second == VECTOR_SIGNATURE
        assert first != second
        verified = signatures_valid_for(
            [new, old, generate_secret()],
            webhook_id=VECTOR_ID,
            timestamp=str(VECTOR_TIMESTAMP),
            body=VECTOR_BODY,
            header=header,
        )
        assert verified == {new, old}


class TestSecrets:
    def test_secrets_are_whsec_and_32_random_bytes(self) -> None:
        secret = generate_secret()
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
        assert generate_secret() != secret

    def test_sealed_secrets_open_only_with_the_key(self) -> None:
        box = SecretBox(Fernet.generate_key().decode())
        secret = generate_secret()
        sealed = box.seal(secret)
        assert secret.encode() not in sealed
        assert box.open(sealed) == secret
        with pytest.raises(RuntimeError):
            SecretBox(Fernet.generate_key().decode()).open(sealed)
