"""Sending over SMTP: STARTTLS (or implicit TLS) with the server's certificate checked, login
as configured, one message per recipient, and the server's answer classified.

A 2xx after DATA is *sent* (a 2xx to MAIL FROM or RCPT TO only lets the message follow); a 4xx
anywhere, or an answer no server should give, is *deferred* (retried with backoff); a 5xx to
the recipient or the data is *bounced*. A server that cannot be used at all when the session is
first opened (unreachable, no STARTTLS, untrusted certificate, login refused, no complete
greeting within the deadline) raises :class:`MailServerError` before anything is sent, so
nothing is recorded for it.

The socket's ``timeout`` bounds each wait for the server; ``message_timeout`` bounds each message
as a whole (opening a session when one is needed, MAIL FROM to the answer after DATA), since a
server that sends a continuation line every few seconds never lets a wait run out. At that
deadline, or when the server says nothing for one whole ``timeout``, the connection is dropped
and the message deferred. A message whose new session cannot be opened (the server went away
after the first) is deferred too. Either way the server, not the message, failed:
:attr:`SmtpSender.failure` says why, and the caller tries no more messages until later (each
would wait as long, or fail the same way).
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from certseal.deadline import Deadline, watch, watched
from delivery.config import SmtpSettings
from delivery.errors import MailServerError

# A connection that broke: the message is deferred, the next one opens a new session.
_LOST = (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError)


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
        if 500 <= code < 600:
            return cls("bounced", code, message)
        # 4xx, and an answer no server should give at that step (1xx, 3xx, unreadable): the
        # server's trouble, tried again later, never a bounce that blames the address.
        return cls("deferred", code, message)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    ctx = watched(ssl.create_default_context(cafile=str(ca_file) if ca_file else None))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class _Watched:
    """Its socket registered with the thread's deadline as soon as it is connected, before the
    greeting is read. ``_get_socket`` is smtplib's own hook (``SMTP_SSL`` overrides it), not in
    its documentation: the greeting tests in tests/delivery/test_slow_mail.py fail if it
    is no longer called."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        watch(sock)
        return sock


class _WatchedSMTP(_Watched, smtplib.SMTP):
    pass


class _WatchedSMTPSSL(_Watched, smtplib.SMTP_SSL):
    pass


class SmtpSender:
    """One SMTP session, reused for a run's messages (reconnects when the server hangs up)."""

    def __init__(self, settings: SmtpSettings, password: str | None, ca_file: Path | None):
        self.settings = settings
        self.password = password
        self.ca_file = ca_file
        self._smtp: smtplib.SMTP | None = None
        self._stage = "connect"  # what the message in progress waits for, named when cut
        # Why the server failed the last message as a whole (a new session refused, or the
        # message cut at message_timeout), rather than the message alone; None otherwise.
        self.failure: MailServerError | None = None

    def _fail(self, en: str, zh: str) -> MailServerError:
        where = f"{self.settings.host}:{self.settings.port}"
        return MailServerError(f"SMTP server {where}: {en}", f"SMTP 伺服器 {where}：{zh}")

    def open(self) -> None:
        """Open the session, within ``message_timeout``: a server that never completes its
        greeting, EHLO or login cannot be used at all, like one that is unreachable."""
        seconds = self.settings.message_timeout
        with Deadline(seconds) as deadline:
            try:
                self._smtp = self._connect()
            except MailServerError:
                if not deadline.expired:
                    raise
                raise self._fail(
                    f"no complete answer within {seconds:g} s while opening the session; "
                    "nothing was sent",
                    f"開啟連線時 {seconds:g} 秒內未收到完整回應；未寄出任何郵件",
                ) from None
        if deadline.expired:  # opened as the time ran out: its socket is shut, open another
            self._drop()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        ctx = tls_context(self.ca_file) if s.security != "none" else None
        smtp: smtplib.SMTP | None = None
        try:
            if s.security == "tls":
                smtp = _WatchedSMTPSSL(s.host, s.port, timeout=s.timeout, context=ctx)
            else:
                smtp = _WatchedSMTP(s.host, s.port, timeout=s.timeout)
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
        """Say QUIT, waiting for the answer no longer than one wait, and close."""
        if self._smtp is None:
            return
        deadline = Deadline(self.settings.timeout)
        with deadline, contextlib.suppress(OSError, smtplib.SMTPException):
            deadline.add(self._smtp.sock)
            self._smtp.quit()
        self._drop()

    def _drop(self) -> None:
        """Close the connection without a word: it broke, or the server ran out of time."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def __enter__(self) -> SmtpSender:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, sender: str, recipient: str, message: bytes) -> Answer:
        """Send one message to one recipient, within ``message_timeout``; the server's
        answer, classified. A connection lost, a new session refused or a message cut at the
        deadline defers the message and leaves no session: the next message opens another.
        The last two also set :attr:`failure`: the server cannot be used now."""
        deadline = Deadline(self.settings.message_timeout)
        self.failure = None
        try:
            with deadline:
                deadline.add(self._smtp.sock if self._smtp is not None else None)
                answer = self._send(sender, recipient, message)
        except (OSError, smtplib.SMTPException, MailServerError) as e:
            deferred = self._deferred(e, expired=deadline.expired)
            if deferred is None:
                raise
            return deferred
        if deadline.expired:
            self._drop()  # its socket is shut
            # A 2xx after DATA is the server's acceptance (a reply's code leads each of its
            # lines); anything else may be a reply cut short, so it is asked again later.
            if answer.outcome != "sent":
                return self._late()
        return answer

    def _deferred(self, e: BaseException, *, expired: bool) -> Answer | None:
        """The deferral of a message that ``e`` ended (its session dropped), or None when ``e``
        is not the server's doing and goes on up."""
        unreadable = isinstance(e, smtplib.SMTPResponseException)
        if not (expired or unreadable or isinstance(e, (*_LOST, MailServerError))):
            return None
        self._drop()
        if expired:
            return self._late()
        # smtplib turns a read that timed out into SMTPServerDisconnected raised while handling
        # the TimeoutError: the server fell silent, it did not hang up.
        if isinstance(e, TimeoutError) or isinstance(e.__context__, TimeoutError):
            return self._late(silent=True)
        if isinstance(e, MailServerError):  # only opening a new session raises it
            self.failure = e
            return Answer("deferred", 0, e.en[:500])
        if unreadable:
            # Raised here only by smtplib's reading of a reply line too long to be one (a
            # reply's code, DATA's included, is returned, not raised, on this path): its own
            # 500, never the server's, so never a bounce. The session is out of step with the
            # server, dropped; the next message opens another.
            text = "an answer the server should not give (a line longer than any reply)"
            return Answer("deferred", 0, f"{self._stage}: {text}")
        return Answer("deferred", 0, f"connection lost: {e}"[:500])

    def _late(self, *, silent: bool = False) -> Answer:
        """The message deferred because the server did not answer in time (within one wait,
        or in all within ``message_timeout``): it stalls, so it cannot be used now."""
        seconds = self.settings.timeout if silent else self.settings.message_timeout
        en, zh = ("no answer", "未收到回應") if silent else ("no complete answer", "未收到完整回應")
        text = f"{self._stage}: {en} within {seconds:g} s"
        self.failure = self._fail(text, f"{self._stage}：{seconds:g} 秒內{zh}")
        return Answer("deferred", 0, text)

    def _send(self, sender: str, recipient: str, message: bytes) -> Answer:
        if self._smtp is None:
            self._stage = "connect"
            self._smtp = self._connect()
        smtp = self._smtp
        self._stage = "MAIL FROM"
        code, text = smtp.mail(sender)
        if not 200 <= code < 300:
            smtp.rset()
            return Answer.of(code, text, "MAIL FROM")
        self._stage = "RCPT TO"
        code, text = smtp.rcpt(recipient)
        # Any 2xx accepts the recipient (252: "cannot verify, will try"); only DATA's answer
        # makes a message sent.
        if not 200 <= code < 300:
            smtp.rset()
            return Answer.of(code, text, "RCPT TO")
        self._stage = "DATA"
        try:
            code, text = smtp.data(message)
        except smtplib.SMTPDataError as e:
            smtp.rset()
            return Answer.of(e.smtp_code, e.smtp_error, "DATA")
        return Answer.of(code, text, "DATA")
