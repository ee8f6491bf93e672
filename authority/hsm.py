"""Signing keys held in a hardware security module, through PKCS#11 (SoftHSM2 in the tests).

The key is generated on the token (EC P-256, sensitive, never extractable) and never leaves it:
the authority keeps only its certificate and ``keys/hsm.json``, which says which module, which
token and which key id each role uses. The PIN comes from the environment
(``CERTSEAL_HSM_PIN``), never from the command line or a file.

:class:`HsmKey` is a ``cryptography`` EC private key whose ``sign`` asks the token: everything
that signs with the authority's key (the fast PDF signer, the machine-readable twin) works
unchanged, and only the raw signature is swapped. One session per process (:func:`session`,
python-pkcs11); the mechanism and the signature's encoding are pyhanko's PKCS#11 support's
(raw ECDSA over a digest hashed here, as SoftHSM2 has no hash-then-sign ECDSA).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pkcs11
from asn1crypto import algos
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from pyhanko.sign.pkcs11 import PKCS11SignatureOperationSpec, select_pkcs11_signing_params

from certseal.errors import ConfigurationError, HsmError, PassphraseError

HSM_FILE = "hsm.json"
PIN_ENV = "CERTSEAL_HSM_PIN"
_DIGESTS = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


@dataclass(frozen=True)
class HsmSettings:
    """Where a role's key lives: the PKCS#11 module, the token's label, the key's id (hex)."""

    module: str
    token_label: str
    keys: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.module or not self.token_label:
            raise ConfigurationError(
                "hsm.json needs the PKCS#11 module's path and the token's label",
                "hsm.json 須有 PKCS#11 模組路徑與 token 標籤",
            )
        for role, key_id in self.keys.items():
            try:
                bytes.fromhex(key_id)
            except (TypeError, ValueError):
                raise ConfigurationError(
                    f"hsm.json: the {role} key id {key_id!r} is not hexadecimal",
                    f"hsm.json：{role} 金鑰代號 {key_id!r} 不是十六進位",
                ) from None

    def key_id(self, role: str) -> bytes | None:
        value = self.keys.get(role)
        return None if value is None else bytes.fromhex(value)

    def with_key(self, role: str, key_id: bytes) -> HsmSettings:
        return HsmSettings(self.module, self.token_label, {**self.keys, role: key_id.hex()})

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.module, "token_label": self.token_label, "keys": dict(self.keys)}

    @classmethod
    def from_dict(cls, d: object) -> HsmSettings:
        if not isinstance(d, Mapping) or not isinstance(d.get("keys", {}), Mapping):
            raise ConfigurationError("hsm.json is not an object", "hsm.json 格式錯誤")
        return cls(
            str(d.get("module") or ""),
            str(d.get("token_label") or ""),
            {str(k): str(v) for k, v in d.get("keys", {}).items()},
        )


def read_settings(keys_dir: Path) -> HsmSettings | None:
    """The home's HSM settings, or None when every key is a file."""
    try:
        data = (keys_dir / HSM_FILE).read_bytes()
    except FileNotFoundError:
        return None
    try:
        return HsmSettings.from_dict(json.loads(data))
    except ValueError:
        raise ConfigurationError(
            f"{keys_dir / HSM_FILE} is not valid JSON", f"{keys_dir / HSM_FILE} 不是有效的 JSON"
        ) from None


def write_settings(keys_dir: Path, settings: HsmSettings) -> None:
    """Replace ``hsm.json`` atomically (it names the current key; the history keeps the old)."""
    tmp = keys_dir / f".{HSM_FILE}.tmp"
    tmp.write_text(json.dumps(settings.to_dict(), indent=2) + "\n", "utf-8")
    os.replace(tmp, keys_dir / HSM_FILE)


def pin_from_env(env: Mapping[str, str] | None = None) -> str:
    pin = (os.environ if env is None else env).get(PIN_ENV, "")
    if not pin:
        raise PassphraseError(
            f"the signing key is in an HSM: set its user PIN in {PIN_ENV}",
            f"簽章金鑰在 HSM 中：請以環境變數 {PIN_ENV} 提供使用者 PIN",
        )
    return pin


def _fail(e: Exception, settings: HsmSettings) -> NoReturn:
    """One plain message per PKCS#11 failure a registrar can meet."""
    if isinstance(e, pkcs11.exceptions.PinIncorrect | pkcs11.exceptions.PinLenRange):
        raise PassphraseError(
            f"the HSM refused the PIN in {PIN_ENV}", f"HSM 拒絕 {PIN_ENV} 中的 PIN"
        ) from None
    if isinstance(e, pkcs11.exceptions.PinLocked):
        raise HsmError(
            "the HSM token's PIN is locked: the security officer must unlock it",
            "HSM token 的 PIN 已鎖定：須由安全管理員解鎖",
        ) from None
    raise HsmError(
        f"the HSM (token {settings.token_label!r}, module {settings.module}) cannot be used: "
        f"{type(e).__name__} {e}",
        f"無法使用 HSM（token {settings.token_label!r}，模組 {settings.module}）："
        f"{type(e).__name__} {e}",
    ) from None


_sessions: dict[tuple[int, str, str], tuple[pkcs11.Session, bytes]] = {}


def session(settings: HsmSettings, pin: str) -> pkcs11.Session:
    """This process's one session with the token, opened (and logged in) on first use and
    kept for every signature after.

    A worker signs thousands of documents: a session and a login per document would cost
    more than the signature. PKCS#11 logs a whole process in at once, so a second session
    could not check another PIN: a different PIN later in the same process is refused. The
    process id is part of the key, so a forked child never reuses its parent's session."""
    key = (os.getpid(), settings.module, settings.token_label)
    pin_hash = hashlib.sha256(pin.encode()).digest()
    found = _sessions.get(key)
    if found is not None:
        if found[1] != pin_hash:
            raise PassphraseError(
                "this process's HSM session was opened with another PIN",
                "本程序的 HSM 連線係以另一組 PIN 開啟",
            )
        return found[0]
    try:
        token = pkcs11.lib(settings.module).get_token(token_label=settings.token_label)
        opened = token.open(rw=True, user_pin=pin)
    except (pkcs11.exceptions.PKCS11Error, OSError, RuntimeError) as e:
        _fail(e, settings)
    _sessions[key] = (opened, pin_hash)
    return opened


class HsmKey(ec.EllipticCurvePrivateKey):
    """An EC private key on the token: signs through PKCS#11, cannot be exported."""

    def __init__(self, handle: Any, public: ec.EllipticCurvePublicKey, key_id: bytes) -> None:
        self._handle = handle
        self._public = public
        self.key_id = key_id
        self._specs: dict[str, PKCS11SignatureOperationSpec] = {}

    def _spec(self, digest: str) -> PKCS11SignatureOperationSpec:
        spec = self._specs.get(digest)
        if spec is None:
            mechanism = algos.SignedDigestAlgorithm({"algorithm": f"{digest}_ecdsa"})
            spec = self._specs[digest] = select_pkcs11_signing_params(
                mechanism, digest, use_raw_mechanism=True, sign_kwargs={}
            )
        return spec

    def sign(
        self,
        data: bytes | bytearray | memoryview,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> bytes:
        """A DER ECDSA signature, as ``cryptography``'s own key returns it."""
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise HsmError("the HSM key signs only with ECDSA", "HSM 金鑰僅支援 ECDSA")
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, Prehashed):
            digest_name = algorithm._algorithm.name
        else:
            digest_name = algorithm.name
        if digest_name not in _DIGESTS:
            raise HsmError(f"unsupported digest {digest_name}", f"不支援的雜湊 {digest_name}")
        spec = self._spec(digest_name)
        if isinstance(algorithm, Prehashed):
            message = bytes(data)  # already the digest: the raw mechanism signs it as is
        else:
            assert spec.pre_sign_transform is not None
            message = spec.pre_sign_transform(bytes(data))
        try:
            raw = self._handle.sign(message, **spec.sign_kwargs)
        except pkcs11.exceptions.PKCS11Error as e:
            raise HsmError(
                f"the HSM did not sign: {type(e).__name__} {e}",
                f"HSM 簽章失敗：{type(e).__name__} {e}",
            ) from None
        assert spec.post_sign_transform is not None
        return bytes(spec.post_sign_transform(raw))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def _stays(self) -> NoReturn:
        raise HsmError(
            "the key was generated on the HSM and never leaves it",
            "此金鑰在 HSM 內產生，無法匯出",
        )

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        self._stays()

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        self._stays()

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        self._stays()

    def __copy__(self) -> HsmKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> HsmKey:
        return self


def _public_of(handle: Any) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(encode_ec_public_key(handle))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def load_key(settings: HsmSettings, role: str, pin: str) -> HsmKey:
    """The role's key on the token, through this process's session."""
    key_id = settings.key_id(role)
    if key_id is None:
        raise ConfigurationError(f"hsm.json names no {role} key", f"hsm.json 未指定 {role} 金鑰")
    s = session(settings, pin)
    try:
        private = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
        public = s.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
    except pkcs11.exceptions.NoSuchKey:
        raise HsmError(
            f"the HSM token {settings.token_label!r} has no {role} key {key_id.hex()}",
            f"HSM token {settings.token_label!r} 中找不到 {role} 金鑰 {key_id.hex()}",
        ) from None
    except pkcs11.exceptions.PKCS11Error as e:
        _fail(e, settings)
    return HsmKey(private, _public_of(public), key_id)


def generate_key(settings: HsmSettings, label: str, pin: str) -> HsmKey:
    """A new EC P-256 key pair generated on the token (sensitive, never extractable).

    Both halves get the same random 16-byte id, which ``hsm.json`` records."""
    key_id = os.urandom(16)
    s = session(settings, pin)
    try:
        params = s.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        params.generate_keypair(
            store=True,
            id=key_id,
            label=label,
            public_template={Attribute.VERIFY: True},
            private_template={
                Attribute.SIGN: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
            },
        )
    except pkcs11.exceptions.PKCS11Error as e:
        _fail(e, settings)
    return load_key(settings.with_key("new", key_id), "new", pin)
