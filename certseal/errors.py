"""One error family for the whole project.

Every failure a person can meet is a subclass of :class:`CertsealError`, carrying a plain
message in English and in Traditional Chinese. The CLI and the web layer catch the base class in
one place and show :meth:`CertsealError.message`; nothing else needs to know the subclasses.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "zh-TW"]


class CertsealError(Exception):
    """Base class: a failure with a message for people, in both languages."""

    code = "error"
    exit_code = 1

    def __init__(self, en: str, zh: str | None = None) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh or en

    def message(self, lang: Lang = "en") -> str:
        return self.zh if lang == "zh-TW" else self.en

    def __str__(self) -> str:
        return self.en


class ConfigurationError(CertsealError):
    """The authority or the verifier is not set up the way the operation needs."""

    code = "configuration"
    exit_code = 3


class AuthorityBusyError(ConfigurationError):
    """Another command holds the authority's lock."""

    code = "busy"


class PassphraseError(CertsealError):
    """A key could not be unlocked with the passphrase given."""

    code = "passphrase"
    exit_code = 4


class InputError(CertsealError):
    """A file or value given by the user is not acceptable."""

    code = "input"
    exit_code = 2


class RecordError(InputError):
    """One row of an imported CSV is not acceptable; says which line and field."""

    code = "record"

    def __init__(self, line: int, field: str, en: str, zh: str | None = None) -> None:
        super().__init__(
            f"line {line}, field '{field}': {en}",
            f"第 {line} 行，欄位「{field}」：{zh or en}",
        )
        self.line = line
        self.field = field


class RenderError(CertsealError):
    """A document cannot be laid out faithfully (e.g. a character no font has)."""

    code = "render"


class CalendarError(RenderError):
    """A date or academic term the documents cannot write: before 1912 or after 2910 (outside
    the ROC years the wording spells), or not a date or term at all."""

    code = "calendar"


class SigningError(CertsealError):
    """The PDF could not be signed."""

    code = "signing"


class HsmError(SigningError):
    """The hardware security module (PKCS#11 token) holding a key cannot be used."""

    code = "hsm"


class RegistryError(CertsealError):
    """An operation on the registry is not allowed (unknown document, illegal state change)."""

    code = "registry"


class StateError(RegistryError):
    """The document's current state forbids the operation (e.g. revoking it twice)."""

    code = "state"


class DeserializationError(CertsealError):
    """Published data (status list, checkpoint, log) is not in the documented format."""

    code = "deserialization"


class FormatError(DeserializationError, ValueError):
    """A value breaks a format's rules: a hash of the wrong size, a size out of range, a bad name.

    Raised while parsing untrusted published data and while building models from values; it is
    also a ValueError, so code that validates its own arguments reads naturally.
    """

    code = "format"


class SignatureVerificationError(CertsealError):
    """Published data is not signed by the expected key."""

    code = "bad_signature"


class HashMismatchError(SignatureVerificationError):
    """A published file does not match the hash (or length) its signed parent pins."""

    code = "hash_mismatch"


class VersionMismatchError(DeserializationError):
    """Two signed files of one publication disagree on its version (mix and match)."""

    code = "version_mismatch"


class RollbackError(CertsealError):
    """Published data is older than what was already seen."""

    code = "rollback"


class BelowPinError(RollbackError):
    """Published data is older than the minimum version or time an operator pinned."""

    code = "below_pin"


class ExpiredError(CertsealError):
    """Published data is past its expiry time."""

    code = "expired"


class FetchError(CertsealError):
    """Published data could not be fetched from its folder or URL."""

    code = "fetch"


class StoreUnavailableError(CertsealError):
    """The verifier's shared store (counts, trusted status-list state) cannot be reached."""

    code = "store_unavailable"


class IndexBusyError(StoreUnavailableError):
    """Another thread is building the store's index of a list (the signature index): this
    lookup does without it rather than wait."""

    code = "index_busy"
