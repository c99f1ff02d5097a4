"""The libcrypto AES-CBC binding pyghmi gets instead of python3-cryptography.

Checked against NIST SP 800-38A's CBC-AES128 vectors and against the real
cryptography package on random keys, IVs and lengths; real IPMI sessions
through it are in tests/integration/test_fence_ipmi.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher as RealCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes

from fence_agents.ipmi import aes

ROOT = Path(__file__).resolve().parents[2]

# NIST SP 800-38A, F.2.1 (encrypt) and F.2.2 (decrypt): all four blocks.
KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
PLAIN = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
SEALED = bytes.fromhex(
    "7649abac8119b246cee98e9b12e9197d"
    "5086cb9b507219ee95db113a917678b2"
    "73bed6b8e3c1743b7116e69e22229516"
    "3ff1caa1681fac09120eca307586e1a7"
)


@pytest.fixture(scope="module", autouse=True)
def libcrypto() -> None:
    assert aes.load(), "libcrypto.so.3 must load and pass its known-answer test"


def test_nist_vectors_both_ways() -> None:
    cipher = aes.Cipher(aes.AES(KEY), aes.CBC(IV))
    enc = cipher.encryptor()
    assert enc.update(PLAIN) + enc.finalize() == SEALED
    dec = cipher.decryptor()
    assert dec.update(SEALED) + dec.finalize() == PLAIN


def test_same_bytes_as_cryptography_for_random_input() -> None:
    for length in (16, 32, 48, 160, 1024):
        key, iv, data = os.urandom(16), os.urandom(16), os.urandom(length)
        real = RealCipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        want = real.update(data) + real.finalize()
        ours = aes.Cipher(aes.AES(bytearray(key)), aes.CBC(bytearray(iv))).encryptor()
        # pyghmi passes bytes and bytearray; feed it in uneven pieces.
        got = ours.update(bytearray(data[:7])) + ours.update(data[7:]) + ours.finalize()
        assert got == want
        back = aes.Cipher(aes.AES(key), aes.CBC(iv)).decryptor()
        assert back.update(got) + back.finalize() == data


def test_partial_block_fails_like_cryptography() -> None:
    dec = aes.Cipher(aes.AES(KEY), aes.CBC(IV)).decryptor()
    dec.update(SEALED[:20])
    with pytest.raises(ValueError, match="multiple of the block length"):
        dec.finalize()
    with pytest.raises(ValueError, match="finalized"):
        dec.update(SEALED)


@pytest.mark.parametrize("key", [b"", b"k" * 15, b"k" * 24, b"k" * 32])
def test_only_aes_128_keys(key: bytes) -> None:
    with pytest.raises(ValueError, match="16-byte key"):
        aes.AES(key)


def test_iv_must_be_one_block() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        aes.CBC(b"short")


def test_no_libcrypto_means_no_binding() -> None:
    saved = aes.Cipher.evp
    try:
        assert not aes.load(("libnothing-here.so.0",))
        assert aes.Cipher.evp is None
    finally:
        aes.Cipher.evp = saved


def _session_in_fresh_process(prelude: str) -> tuple[str, str]:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        f"{prelude}\n"
        "from fence_agents.ipmi import aes\n"
        "session = aes.import_session()\n"
        "print(aes.provider(session),"
        " 'cryptography' in sys.modules,"
        " session.Cipher.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    provider, loaded, module = done.stdout.split()
    return provider, f"{loaded} {module}"


def test_pyghmi_gets_the_binding_and_nothing_else_sees_it() -> None:
    provider, rest = _session_in_fresh_process("")
    assert provider == "libcrypto"
    # The stand-in modules are gone again: a later import gets the real package.
    assert rest == "False fence_agents.ipmi.aes"


def test_falls_back_to_cryptography_without_libcrypto() -> None:
    prelude = "import fence_agents.ipmi.aes as a; a.LIBCRYPTO = ('libnothing.so.0',)"
    provider, rest = _session_in_fresh_process(prelude)
    assert provider == "cryptography"
    assert rest.startswith("True cryptography")
