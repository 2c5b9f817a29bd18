"""The real Thunderbird composing and sending a signed and encrypted message (the
``thunderbird_smime_message`` fixture that readers of real Thunderbird mail build on), judged
by OpenSSL; smimehelper's own reader opens it too."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess

from tests.console import console_script
from tests.judges import openssl_decrypt, openssl_verify
from tests.thunderbird.conftest import ThunderbirdMessage


def test_thunderbird_sends_signed_and_encrypted(thunderbird_smime_message: ThunderbirdMessage, tmp_path) -> None:  # type: ignore[no-untyped-def]
    message = thunderbird_smime_message
    pki = message.pki
    outer = email.message_from_bytes(message.data, policy=email.policy.default)
    assert outer.get_content_type() == "application/pkcs7-mime"
    assert b"TBMARKER-5521" not in message.data and b"TBMARKER-5521" not in message.sent_copy
    for who in ("bob", "alice"):  # Thunderbird encrypts to the sender too
        entity = pki.entity(who)
        inner = openssl_decrypt(message.data, entity.cert_pem, entity.key_path)
        content = openssl_verify(inner, pki.root.cert_pem, attime=None, exact_bytes=True)
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        texts = [p.get_content() for p in parsed.walk() if p.get_content_type() == "text/plain" and not p.get_filename()]
        assert any("TBMARKER-5521" in t for t in texts)
        files = [p.get_payload(decode=True) for p in parsed.walk() if p.get_filename()]
        assert message.attachment.read_bytes() in files

    eml = tmp_path / "from-thunderbird.eml"
    eml.write_bytes(message.data)
    done = subprocess.run(
        [str(console_script()), "open", str(eml), "--key", str(pki.entity("bob").p12), "--passphrase-file",
         str(pki.passphrase_file), "--trust", str(pki.root.cert_pem), "--json"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                        "SMIMEHELPER_HOME": str(tmp_path / "data"),
                                                        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert done.returncode == 0, done.stderr
    opened = json.loads(done.stdout)
    assert "TBMARKER-5521" in json.dumps(opened)
