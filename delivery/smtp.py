"""Sending over SMTP: STARTTLS (or implicit TLS) with the server's certificate checked, login
as configured, one message per recipient, and the server's answer classified.

A 2xx after DATA is *sent*; a 4xx anywhere is *deferred* (retried with backoff); a 5xx to the
recipient or the data is *bounced*. A server that cannot be used at all (unreachable, no
STARTTLS, untrusted certificate, login refused) raises :class:`MailServerError` before anything
is sent, so nothing is recorded for it.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path

from delivery.config import SmtpSettings
from delivery.errors import MailServerError


@dataclass(frozen=True)
class Answer:
    outcome: str  # sent | deferred | bounced
    code: int
    text: str

    @classmethod
    def of(cls, code: int, text: bytes | str, stage: str) -> Answer:
        message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        message = f"{stage}: {code} {' '.join(message.split())}"[:500]
        if 200 <= code < 300:
            return cls("sent", code, message)
        if 400 <= code < 500:
            return cls("deferred", code, message)
        return cls("bounced", code, message)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class SmtpSender:
    """One SMTP session, reused for a run's messages (reconnects when the server hangs up)."""

    def __init__(self, settings: SmtpSettings, password: str | None, ca_file: Path | None):
        self.settings = settings
        self.password = password
        self.ca_file = ca_file
        self._smtp: smtplib.SMTP | None = None

    def _fail(self, en: str, zh: str) -> MailServerError:
        where = f"{self.settings.host}:{self.settings.port}"
        return MailServerError(f"SMTP server {where}: {en}", f"SMTP 伺服器 {where}：{zh}")

    def open(self) -> None:
        self._smtp = self._connect()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        ctx = tls_context(self.ca_file) if s.security != "none" else None
        smtp: smtplib.SMTP | None = None
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ctx)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise self._fail(
                        "does not offer STARTTLS; documents are never sent in the clear",
                        "未提供 STARTTLS；文件不以明文傳送",
                    )
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, self.password or "")
            return smtp
        except BaseException as e:
            if smtp is not None:
                smtp.close()
            raise self._explain(e) from None

    def _explain(self, e: BaseException) -> BaseException:
        s = self.settings
        if isinstance(e, MailServerError):
            return e
        if isinstance(e, ssl.SSLCertVerificationError):
            return self._fail(
                f"its certificate is not trusted ({e.verify_message}); set [smtp] ca_file if it "
                "is the school's own CA",
                f"憑證不受信任（{e.verify_message}）；若為學校自有 CA，請設定 [smtp] ca_file",
            )
        if isinstance(e, smtplib.SMTPAuthenticationError):
            return self._fail(
                f"login as '{s.username}' refused ({e.smtp_code}); check the password",
                f"以「{s.username}」登入遭拒（{e.smtp_code}）；請檢查密碼",
            )
        if isinstance(e, smtplib.SMTPNotSupportedError):
            return self._fail(
                "does not offer login (AUTH) over this connection", "此連線不提供登入（AUTH）"
            )
        if isinstance(e, OSError | smtplib.SMTPException):
            return self._fail(f"cannot connect: {e}", f"無法連線：{e}")
        return e

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> SmtpSender:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, sender: str, recipient: str, message: bytes) -> Answer:
        """Send one message to one recipient; the server's answer, classified."""
        try:
            return self._send(sender, recipient, message)
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as e:
            self.close()
            return Answer("deferred", 0, f"connection lost: {e}"[:500])

    def _send(self, sender: str, recipient: str, message: bytes) -> Answer:
        if self._smtp is None:
            self.open()
        smtp = self._smtp
        assert smtp is not None
        code, text = smtp.mail(sender)
        if code != 250:
            smtp.rset()
            return Answer.of(code, text, "MAIL FROM")
        code, text = smtp.rcpt(recipient)
        if code not in (250, 251):
            smtp.rset()
            return Answer.of(code, text, "RCPT TO")
        try:
            code, text = smtp.data(message)
        except smtplib.SMTPDataError as e:
            smtp.rset()
            return Answer.of(e.smtp_code, e.smtp_error, "DATA")
        return Answer.of(code, text, "DATA")
