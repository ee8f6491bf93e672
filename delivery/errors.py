"""Delivery's failures: each a narrow subclass of the project's one error base class."""

from __future__ import annotations

from certseal.errors import CertsealError, ConfigurationError, InputError, RegistryError


class DeliveryConfigError(ConfigurationError):
    """``delivery.toml`` is missing, malformed, or names a secret that cannot be read."""

    code = "delivery_config"


class OrderError(InputError):
    """An order cannot be imported or changed as asked (unknown, conflicting, over a limit)."""

    code = "order"


class OutboxError(RegistryError):
    """The outbox refused an operation: it is append-only, and a delivery's steps are fixed."""

    code = "outbox"


class MailServerError(CertsealError):
    """The SMTP server cannot be used at all: unreachable, no STARTTLS, bad certificate, login
    refused. At a run's start nothing is recorded and the run stops so the registrar can fix it;
    later in a run the message in hand is deferred with this message and the rest wait."""

    code = "mail_server"


class SftpError(CertsealError):
    """The SFTP server cannot be reached, refuses the key, or an upload failed."""

    code = "sftp"


class HostKeyMismatchError(SftpError):
    """The SFTP server presented a host key other than the pinned one: never accepted."""

    code = "host_key"
