"""Delivery's settings: ``$CERTSEAL_HOME/delivery.toml`` (documented in docs/delivery.md).

Secrets never sit in this file or on a command line: the SMTP password comes from a file in the
home (``password_file``) or an environment variable (``password_env``); the DKIM and SFTP keys
are files in the home. The SFTP server's host key is pinned here, never accepted blindly.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from certseal.doctypes import DIPLOMA_TYPES, DOCUMENT_TYPES
from certseal.workdays import Calendar, load_calendar, parse_calendar
from delivery.errors import DeliveryConfigError
from delivery.orders import OrderRules, is_mail_address

CONFIG_NAME = "delivery.toml"
BUILTIN_CALENDAR = "builtin:tw-2026-2027"
SECURITY = ("starttls", "tls", "none")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
# A whole message or upload, in seconds. The largest document (a few MB; 7 MB once base64-coded
# in a message) still goes through a link of 100 kbit/s within it, so no genuine transfer is
# cut; a server that never finishes answering holds one delivery, not the run (docs/delivery.md).
WHOLE_TIMEOUT = 600


def _check_timeouts(section: str, timeout: float, whole_name: str, whole: float) -> None:
    if not 0 < timeout <= whole:
        raise DeliveryConfigError(
            f"{CONFIG_NAME}: [{section}] timeout must be more than 0 s and at most "
            f"{whole_name} ({whole:g} s): one wait cannot be longer than the whole",
            f"{CONFIG_NAME}：[{section}] timeout 須大於 0 秒且不超過 {whole_name}"
            f"（{whole:g} 秒）：單次等待不能比整體還長",
        )


def _table(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise DeliveryConfigError(
            f"{CONFIG_NAME}: [{name}] must be a table", f"{CONFIG_NAME}：[{name}] 須為表格"
        )
    return value


def _get(table: Mapping[str, Any], section: str, key: str, kind: type, default: Any = None) -> Any:
    value = table.get(key, default)
    if value is None and default is None:
        if key in table:
            return None
        raise DeliveryConfigError(
            f"{CONFIG_NAME}: [{section}] needs '{key}'", f"{CONFIG_NAME}：[{section}] 缺少「{key}」"
        )
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DeliveryConfigError(
            f"{CONFIG_NAME}: [{section}] {key} must be a {kind.__name__}",
            f"{CONFIG_NAME}：[{section}] {key} 的型別須為 {kind.__name__}",
        )
    return value


def _secret_file(home: Path, rel: str, what: str) -> bytes:
    path = home / rel
    try:
        return path.read_bytes()
    except OSError as e:
        raise DeliveryConfigError(
            f"cannot read the {what} file {path}: {e.strerror}",
            f"無法讀取{what}檔案 {path}：{e.strerror}",
        ) from None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls (implicit, port 465) | none (loopback only)
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    ca_file: str | None = None  # trust for the server's certificate; default: the system's
    timeout: float = 30.0  # each wait for the server
    message_timeout: float = WHOLE_TIMEOUT  # one message as a whole, session opening included

    def __post_init__(self) -> None:
        _check_timeouts("smtp", self.timeout, "message_timeout", self.message_timeout)
        if self.security not in SECURITY:
            raise DeliveryConfigError(
                f"{CONFIG_NAME}: [smtp] security must be one of {', '.join(SECURITY)}",
                f"{CONFIG_NAME}：[smtp] security 須為 {', '.join(SECURITY)} 之一",
            )
        if self.security == "none" and self.host not in LOOPBACK:
            raise DeliveryConfigError(
                f"{CONFIG_NAME}: [smtp] security = 'none' is only for a server on this machine "
                "(127.0.0.1): documents are never sent in the clear",
                f"{CONFIG_NAME}：[smtp] security = 'none' 僅限本機伺服器：文件不以明文傳送",
            )
        if self.username and not (self.password_file or self.password_env):
            raise DeliveryConfigError(
                f"{CONFIG_NAME}: [smtp] username needs password_file or password_env",
                f"{CONFIG_NAME}：[smtp] 設定 username 時須提供 password_file 或 password_env",
            )

    def password(self, home: Path) -> str | None:
        if not self.username:
            return None
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value:
                return value
            if not self.password_file:
                raise DeliveryConfigError(
                    f"the SMTP password variable ${self.password_env} is not set",
                    f"未設定 SMTP 密碼環境變數 ${self.password_env}",
                )
        assert self.password_file is not None
        return _secret_file(home, self.password_file, "SMTP password").decode().strip()


@dataclass(frozen=True)
class DkimSettings:
    domain: str
    selector: str
    key_file: str  # PEM private key (RSA), in the home

    def private_key(self, home: Path) -> bytes:
        return _secret_file(home, self.key_file, "DKIM key")


@dataclass(frozen=True)
class SftpSettings:
    host: str
    username: str
    key_file: str  # the client's private key (OpenSSH or PEM), in the home
    host_key: str  # the server's public host key, "ssh-ed25519 AAAA…": pinned
    port: int = 22
    remote_dir: str = "."
    timeout: float = 30.0  # connecting and logging in
    upload_timeout: float = WHOLE_TIMEOUT  # one upload as a whole, connecting to renaming

    def __post_init__(self) -> None:
        _check_timeouts("sftp", self.timeout, "upload_timeout", self.upload_timeout)


@dataclass(frozen=True)
class Deadlines:
    calendar: str = BUILTIN_CALENDAR
    diploma_working_days: int = 5  # NKUST
    order_working_days: Mapping[str, int] = field(default_factory=dict)  # default 3 (NTNU/NCU)

    def for_order(self, doc_type: str) -> int:
        return self.order_working_days.get(doc_type, 3)

    def load_calendar(self, home: Path) -> Calendar:
        if self.calendar == BUILTIN_CALENDAR:
            return builtin_calendar()
        return load_calendar(home / self.calendar)


@dataclass(frozen=True)
class Retry:
    first_delay_minutes: int = 15  # doubled after each 4xx, up to a day
    max_attempts: int = 8  # then the delivery fails and is shown to the registrar


@dataclass(frozen=True)
class DeliveryConfig:
    sender: str | None = None  # From: and envelope sender
    reply_to: str | None = None
    smtp: SmtpSettings | None = None
    dkim: DkimSettings | None = None
    sftp: SftpSettings | None = None
    rules: OrderRules = field(default_factory=OrderRules)
    hold_for_approval: tuple[str, ...] = ()  # doc types imported as held (NTNU: ID copy first)
    deadlines: Deadlines = field(default_factory=Deadlines)
    retry: Retry = field(default_factory=Retry)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeliveryConfig:
        mail = _table(data, "mail")
        sender = _get(mail, "mail", "from", str, "") or None
        reply_to = _get(mail, "mail", "reply_to", str, "") or None
        for name, value in (("from", sender), ("reply_to", reply_to)):
            if value is not None and not is_mail_address(value):
                raise DeliveryConfigError(
                    f"{CONFIG_NAME}: [mail] {name} '{value}' is not an e-mail address",
                    f"{CONFIG_NAME}：[mail] {name}「{value}」不是電子郵件地址",
                )
        smtp = dkim = sftp = None
        if "smtp" in data:
            t = _table(data, "smtp")
            smtp = SmtpSettings(
                host=_get(t, "smtp", "host", str),
                port=_get(t, "smtp", "port", int, 587),
                security=_get(t, "smtp", "security", str, "starttls"),
                username=_get(t, "smtp", "username", str, "") or None,
                password_file=_get(t, "smtp", "password_file", str, "") or None,
                password_env=_get(t, "smtp", "password_env", str, "") or None,
                ca_file=_get(t, "smtp", "ca_file", str, "") or None,
                timeout=float(_get(t, "smtp", "timeout", int, 30)),
                message_timeout=float(_get(t, "smtp", "message_timeout", int, WHOLE_TIMEOUT)),
            )
        if "dkim" in data:
            t = _table(data, "dkim")
            dkim = DkimSettings(
                _get(t, "dkim", "domain", str),
                _get(t, "dkim", "selector", str),
                _get(t, "dkim", "key_file", str),
            )
        if "sftp" in data:
            t = _table(data, "sftp")
            sftp = SftpSettings(
                host=_get(t, "sftp", "host", str),
                username=_get(t, "sftp", "username", str),
                key_file=_get(t, "sftp", "key_file", str),
                host_key=_get(t, "sftp", "host_key", str),
                port=_get(t, "sftp", "port", int, 22),
                remote_dir=_get(t, "sftp", "remote_dir", str, "."),
                timeout=float(_get(t, "sftp", "timeout", int, 30)),
                upload_timeout=float(_get(t, "sftp", "upload_timeout", int, WHOLE_TIMEOUT)),
            )
        t = _table(data, "rules")
        per_kind = _table(t, "max_per_kind") if "max_per_kind" in t else {}
        try:
            rules = OrderRules(_get(t, "rules", "max_recipients", int, 10), dict(per_kind))
        except ValueError as e:
            raise DeliveryConfigError(
                f"{CONFIG_NAME}: [rules] {e}", f"{CONFIG_NAME}：[rules] {e}"
            ) from None
        held = tuple(_get(t, "rules", "hold_for_approval", list, []))
        for code in held:
            if code not in DOCUMENT_TYPES or code in DIPLOMA_TYPES:
                raise DeliveryConfigError(
                    f"{CONFIG_NAME}: [rules] hold_for_approval names '{code}', not an order's "
                    "document type",
                    f"{CONFIG_NAME}：[rules] hold_for_approval 的「{code}」不是申請文件類型",
                )
        t = _table(data, "deadlines")
        per_type = _table(t, "order_working_days") if "order_working_days" in t else {}
        for code, days in per_type.items():
            if code not in DOCUMENT_TYPES or not isinstance(days, int) or not 0 <= days <= 60:
                raise DeliveryConfigError(
                    f"{CONFIG_NAME}: [deadlines] order_working_days.{code} must be a document "
                    "type and 0 to 60 days",
                    f"{CONFIG_NAME}：[deadlines] order_working_days.{code} "
                    "須為文件類型與 0 到 60 天",
                )
        deadlines = Deadlines(
            _get(t, "deadlines", "calendar", str, BUILTIN_CALENDAR),
            _get(t, "deadlines", "diploma_working_days", int, 5),
            dict(per_type),
        )
        t = _table(data, "retry")
        retry = Retry(
            _get(t, "retry", "first_delay_minutes", int, 15),
            _get(t, "retry", "max_attempts", int, 8),
        )
        if retry.first_delay_minutes < 1 or not 1 <= retry.max_attempts <= 50:
            raise DeliveryConfigError(
                f"{CONFIG_NAME}: [retry] first_delay_minutes must be at least 1 and max_attempts "
                "1 to 50",
                f"{CONFIG_NAME}：[retry] first_delay_minutes 至少 1，max_attempts 須為 1 到 50",
            )
        return cls(sender, reply_to, smtp, dkim, sftp, rules, held, deadlines, retry)


def builtin_calendar() -> Calendar:
    """Taiwan's 2026-2027 holidays, shipped with certseal."""
    text = resources.files("delivery").joinpath("calendars", "tw-2026-2027.toml").read_text("utf-8")
    return parse_calendar(text, "tw-2026-2027.toml")


def load_config(home: Path) -> DeliveryConfig:
    """``delivery.toml`` in the home, or the defaults (import and due work without one)."""
    path = home / CONFIG_NAME
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return DeliveryConfig()
    except (OSError, UnicodeDecodeError) as e:
        raise DeliveryConfigError(f"cannot read {path}: {e}", f"無法讀取 {path}：{e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DeliveryConfigError(
            f"{path} is not valid TOML: {e}", f"{path} 不是有效的 TOML：{e}"
        ) from None
    return DeliveryConfig.from_dict(data)
