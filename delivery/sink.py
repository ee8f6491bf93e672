"""Local servers that stand in for the real ones, for the demo: an SMTP sink that keeps every
message as an ``.eml`` file, and an SFTP server (asyncssh) over a folder, with its own host key.

Both listen on 127.0.0.1 only. ``certseal authority deliver --smtp-sink DIR --sftp-sink DIR``
starts them, delivers to them, and stops them; the outbox records those deliveries as sent, with
an answer that names the sink, so a demo registry never passes for a real one.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
from aiosmtpd.controller import Controller

from delivery.config import SftpSettings, SmtpSettings

LOCAL = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        port: int = s.getsockname()[1]
        return port


class _EmlWriter:
    """Keeps each message, byte for byte as received, as ``NNNN-<message id>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content
        found = re.search(rb"^Message-ID:\s*<([^>]+)>", data, re.MULTILINE | re.IGNORECASE)
        name = found.group(1).decode("ascii", "replace") if found else "message"
        self.count += 1
        safe = re.sub(r"[^A-Za-z0-9._@-]", "_", name)
        (self.folder / f"{self.count:04d}-{safe}.eml").write_bytes(data)
        return f"250 kept in the sink as {self.count:04d}-{safe}.eml"


@contextmanager
def mail_sink(folder: Path) -> Iterator[SmtpSettings]:
    """An SMTP server on 127.0.0.1 writing ``.eml`` files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    controller = Controller(_EmlWriter(folder), hostname=LOCAL, port=port)
    controller.start()
    try:
        yield SmtpSettings(LOCAL, port, security="none")
    finally:
        controller.stop()


@dataclass(frozen=True)
class SftpKeys:
    host_key: asyncssh.SSHKey
    client_key_file: Path


class SftpServer:
    """An asyncssh SFTP server over ``root`` on 127.0.0.1, in a thread of its own; accepts
    ``client_public_key`` only and shows ``host_key``. ``server_class`` answers the requests
    (the tests give one that stops answering)."""

    def __init__(
        self,
        root: Path,
        host_key: asyncssh.SSHKey,
        client_public_key: str,
        server_class: type[asyncssh.SFTPServer] = asyncssh.SFTPServer,
    ) -> None:
        self.root = root
        self.host_key = host_key
        self.client_public_key = client_public_key
        self.server_class = server_class
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._server: asyncssh.SSHAcceptor | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _start(self) -> None:
        root = str(self.root).encode()
        self._server = await asyncssh.listen(
            LOCAL,
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(self.client_public_key),
            sftp_factory=lambda chan: self.server_class(chan, chroot=root),
            allow_scp=False,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> SftpServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # A request still being answered (its client gone) ends here, not as a task destroyed
        # pending with the loop.
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


def host_key_line(key: asyncssh.SSHKey) -> str:
    """The public key as ``delivery.toml``'s ``host_key`` pins it."""
    return key.export_public_key("openssh").decode().strip()


@contextmanager
def sftp_sink(folder: Path, keys_dir: Path) -> Iterator[SftpSettings]:
    """An SFTP server over ``folder`` with a fresh host key; the settings pin that key."""
    folder.mkdir(parents=True, exist_ok=True)
    keys_dir.mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_file = keys_dir / "sink_client_key"
    client_key.write_private_key(str(client_file))
    client_file.chmod(0o600)
    pub = client_key.export_public_key("openssh").decode()
    server = SftpServer(folder, host_key, pub).start()
    try:
        yield SftpSettings(
            host=LOCAL,
            username="wes",
            key_file=str(client_file),
            host_key=host_key_line(host_key),
            port=server.port,
            remote_dir="/",
        )
    finally:
        server.stop()
