"""pyghmi's AES-CBC from the system's OpenSSL, without loading python3-cryptography.

pyghmi encrypts IPMI 2.0 payloads (AES-CBC-128, cipher suites 3 and 17)
through python3-cryptography.  Its OpenSSL backend loads cryptography's X.509
stack when imported: about 35 ms of every fence action on Debian 12, more
than the rest of a status action.  The cipher is OpenSSL's in both cases; this
module calls OpenSSL's EVP interface (libcrypto) through ctypes instead, with
exactly the part of cryptography's API that pyghmi's session module uses:
``default_backend``, ``Cipher(algorithms.AES(key), modes.CBC(iv))`` and its
``encryptor()``/``decryptor()`` with ``update``/``finalize``.

:func:`import_session` imports pyghmi's session module with these names in
place of cryptography's, then takes them out of ``sys.modules`` again, so
anything else in the process still gets the real cryptography.  The binding
is used only after a known-answer test on the loaded libcrypto (NIST SP
800-38A, F.2.1 and F.2.2); if libcrypto cannot be loaded, the test fails, or
pyghmi imports anything else from cryptography, pyghmi is imported with the
real cryptography, as if this module did not exist.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs start-up time; see STYLE.md section 9
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

#: sonames tried in order: OpenSSL 3 (Debian 12, EL9), then 1.1.
LIBCRYPTO = ("libcrypto.so.3", "libcrypto.so.1.1")
BLOCK = 16
FAKED = (
    "cryptography",
    "cryptography.hazmat",
    "cryptography.hazmat.backends",
    "cryptography.hazmat.primitives",
    "cryptography.hazmat.primitives.ciphers",
)
SESSION = "pyghmi.ipmi.private.session"

#: NIST SP 800-38A F.2.1: CBC-AES128, first two blocks.
_KAT_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
_KAT_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
_KAT_PLAIN = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
)
_KAT_CIPHER = bytes.fromhex(
    "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
)


class _Evp:
    """The five libcrypto calls an AES-128-CBC context needs, typed for ctypes."""

    def __init__(self, soname: str) -> None:
        import ctypes  # noqa: PLC0415 - only when an IPMI session is opened

        lib = ctypes.CDLL(soname)
        vp, cp, ip = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        lib.EVP_CIPHER_CTX_new.restype = vp
        lib.EVP_CIPHER_CTX_new.argtypes = []
        lib.EVP_CIPHER_CTX_free.restype = None
        lib.EVP_CIPHER_CTX_free.argtypes = [vp]
        lib.EVP_aes_128_cbc.restype = vp
        lib.EVP_aes_128_cbc.argtypes = []
        lib.EVP_CipherInit_ex.restype = ip
        lib.EVP_CipherInit_ex.argtypes = [vp, vp, vp, cp, cp, ip]
        lib.EVP_CIPHER_CTX_set_padding.restype = ip
        lib.EVP_CIPHER_CTX_set_padding.argtypes = [vp, ip]
        out_len = ctypes.POINTER(ip)
        lib.EVP_CipherUpdate.restype = ip
        lib.EVP_CipherUpdate.argtypes = [vp, cp, out_len, cp, ip]
        lib.EVP_CipherFinal_ex.restype = ip
        lib.EVP_CipherFinal_ex.argtypes = [vp, cp, out_len]
        self.lib = lib
        self.ctypes = ctypes


class _Context:
    """One encryption or decryption, like cryptography's CipherContext."""

    def __init__(self, evp: _Evp, key: bytes, iv: bytes, encrypt: bool) -> None:
        self._evp = evp
        lib = evp.lib
        self._ctx = lib.EVP_CIPHER_CTX_new()
        if not self._ctx:
            raise MemoryError("EVP_CIPHER_CTX_new failed")
        ok = lib.EVP_CipherInit_ex(
            self._ctx, lib.EVP_aes_128_cbc(), None, key, iv, 1 if encrypt else 0
        )
        # No padding: pyghmi pads itself (IPMI 2.0 section 13.29), and a
        # ciphertext that is not whole blocks must fail, as in cryptography.
        if ok != 1 or lib.EVP_CIPHER_CTX_set_padding(self._ctx, 0) != 1:
            self._free()
            raise ValueError("OpenSSL refused the AES-128-CBC key or IV")

    def update(self, data: bytes | bytearray) -> bytes:
        """Process ``data``; return the whole blocks done so far."""
        if self._ctx is None:
            raise ValueError("the context is already finalized")
        ctypes = self._evp.ctypes
        data = bytes(data)
        out = ctypes.create_string_buffer(len(data) + BLOCK)
        written = ctypes.c_int(0)
        if (
            self._evp.lib.EVP_CipherUpdate(
                self._ctx, out, ctypes.byref(written), data, len(data)
            )
            != 1
        ):
            self._free()
            raise ValueError("AES-128-CBC update failed")
        return bytes(out.raw[: written.value])

    def finalize(self) -> bytes:
        """End the operation; a partial last block is an error."""
        if self._ctx is None:
            raise ValueError("the context is already finalized")
        ctypes = self._evp.ctypes
        out = ctypes.create_string_buffer(BLOCK)
        written = ctypes.c_int(0)
        ok = self._evp.lib.EVP_CipherFinal_ex(self._ctx, out, ctypes.byref(written))
        self._free()
        if ok != 1:
            raise ValueError("the data length is not a multiple of the block length")
        return bytes(out.raw[: written.value])

    def _free(self) -> None:
        if self._ctx is not None:
            self._evp.lib.EVP_CIPHER_CTX_free(self._ctx)
            self._ctx = None

    def __del__(self) -> None:
        """Free the OpenSSL context of an unfinished operation."""
        self._free()


class AES:
    """``algorithms.AES``: the key (AES-128 only, what IPMI uses)."""

    def __init__(self, key: bytes | bytearray) -> None:
        """Keep a 16-byte key."""
        if len(key) != BLOCK:
            raise ValueError(f"AES-128 needs a 16-byte key, not {len(key)} bytes")
        self.key = bytes(key)


class CBC:
    """``modes.CBC``: the initialisation vector."""

    def __init__(self, initialization_vector: bytes | bytearray) -> None:
        """Keep a 16-byte IV."""
        if len(initialization_vector) != BLOCK:
            raise ValueError("the CBC initialisation vector must be 16 bytes")
        self.iv = bytes(initialization_vector)


class Cipher:
    """``Cipher``: AES with CBC, bound to the loaded libcrypto."""

    evp: _Evp | None = None

    def __init__(self, algorithm: AES, mode: CBC, backend: object = None) -> None:
        """Pair the key with the IV (``backend`` is ignored, as in cryptography)."""
        if not isinstance(algorithm, AES) or not isinstance(mode, CBC):
            raise TypeError("only AES with CBC is provided")
        self.algorithm = algorithm
        self.mode = mode

    def _context(self, encrypt: bool) -> _Context:
        if Cipher.evp is None:
            raise RuntimeError("libcrypto is not loaded")
        return _Context(Cipher.evp, self.algorithm.key, self.mode.iv, encrypt)

    def encryptor(self) -> _Context:
        """A context that encrypts."""
        return self._context(True)

    def decryptor(self) -> _Context:
        """A context that decrypts."""
        return self._context(False)


def default_backend() -> None:
    """Stand for cryptography's backend object; this binding needs none."""
    return


def load(sonames: tuple[str, ...] | None = None) -> bool:
    """Bind libcrypto and run the known-answer test; tell whether it passed."""
    Cipher.evp = None
    for soname in LIBCRYPTO if sonames is None else sonames:
        try:
            evp = _Evp(soname)
        except (OSError, AttributeError):
            continue
        Cipher.evp = evp
        try:
            if _known_answer():
                return True
        except (ValueError, MemoryError):
            pass
        Cipher.evp = None
    return False


def _known_answer() -> bool:
    cipher = Cipher(AES(_KAT_KEY), CBC(_KAT_IV))
    enc = cipher.encryptor()
    # Split mid-block: update must hold back a partial block, as in OpenSSL.
    sealed = enc.update(_KAT_PLAIN[:20]) + enc.update(_KAT_PLAIN[20:]) + enc.finalize()
    dec = cipher.decryptor()
    opened = dec.update(_KAT_CIPHER) + dec.finalize()
    return sealed == _KAT_CIPHER and opened == _KAT_PLAIN


def _modules() -> dict[str, ModuleType]:
    from types import ModuleType  # noqa: PLC0415 - built in

    made = {name: ModuleType(name) for name in FAKED}
    made["cryptography.hazmat.backends"].default_backend = default_backend  # type: ignore[attr-defined]
    ciphers: Any = made["cryptography.hazmat.primitives.ciphers"]
    ciphers.Cipher = Cipher
    ciphers.algorithms = ModuleType("algorithms")
    ciphers.algorithms.AES = AES
    ciphers.modes = ModuleType("modes")
    ciphers.modes.CBC = CBC
    return made


def import_session() -> ModuleType:
    """Import pyghmi's session module, encrypting through libcrypto if possible."""
    if SESSION in sys.modules or "cryptography" in sys.modules or not load():
        return _import_plain()
    sys.modules.update(_modules())
    try:
        from pyghmi.ipmi.private import session  # noqa: PLC0415
    except ImportError:
        # This pyghmi wants more of cryptography than pyghmi 1.5 does.
        sys.modules.pop(SESSION, None)
        session = None
    finally:
        for name in FAKED:
            sys.modules.pop(name, None)
    if session is None or getattr(session, "Cipher", None) is not Cipher:
        sys.modules.pop(SESSION, None)
        return _import_plain()
    return sys.modules[SESSION]


def _import_plain() -> ModuleType:
    from pyghmi.ipmi.private import session  # noqa: F401, PLC0415

    return sys.modules[SESSION]


def provider(session: ModuleType) -> str:
    """Which AES ``session`` uses: "libcrypto" or "cryptography"."""
    return "libcrypto" if getattr(session, "Cipher", None) is Cipher else "cryptography"
