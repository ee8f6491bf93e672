"""Uploads to WES by SFTP (asyncssh): key authentication, the host key pinned, temporary name
then rename.

The server's host key must equal the one in ``delivery.toml``: asyncssh is given it as the only
trusted key, so any other key (a new server, a man in the middle) is refused with both
fingerprints named. A file is written as ``.NAME.part`` and renamed into place (POSIX rename,
which replaces atomically), so WES never picks up half a file and a re-run after a crash simply
uploads again under the same name.

``timeout`` bounds connecting and logging in; ``upload_timeout`` bounds the whole upload,
connecting to renaming: a server that accepts the session and then never answers a request
would otherwise hold the upload, and the run, for ever. At that deadline the connection is
aborted and the upload fails with :class:`SftpError` (deferred, retried later).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from delivery.config import SftpSettings
from delivery.errors import DeliveryConfigError, HostKeyMismatchError, SftpError


@dataclass(frozen=True)
class Upload:
    remote_path: str
    size: int


def pinned_key(text: str) -> asyncssh.SSHKey:
    try:
        return asyncssh.import_public_key(text.strip())
    except (asyncssh.KeyImportError, ValueError) as e:
        raise DeliveryConfigError(
            f"delivery.toml: [sftp] host_key is not an SSH public key ({e}); copy the server's "
            "'ssh-ed25519 AAAA…' line",
            "delivery.toml：[sftp] host_key 不是 SSH 公鑰；請複製伺服器的「ssh-ed25519 AAAA…」",
        ) from None


class _Client(asyncssh.SSHClient):
    """Remembers the key the server showed, to name it when it is refused."""

    def __init__(self, seen: list[asyncssh.SSHKey]) -> None:
        self.seen = seen

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.seen.append(key)
        return False


def wes_file_name(wes_ref: str, doc_id: str) -> str:
    """WES matches uploads to applicants by reference number: it leads the file's name."""
    return f"{wes_ref}_{doc_id}.pdf"


async def _upload(settings: SftpSettings, key_path: Path, name: str, data: bytes) -> Upload:
    pinned = pinned_key(settings.host_key)
    try:
        client_key = asyncssh.read_private_key(str(key_path))
    except (OSError, asyncssh.KeyImportError, ValueError) as e:
        raise DeliveryConfigError(
            f"cannot read the SFTP key {key_path}: {e}", f"無法讀取 SFTP 金鑰 {key_path}：{e}"
        ) from None
    seen: list[asyncssh.SSHKey] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.upload_timeout
    try:
        done = await _transfer(settings, pinned, client_key, seen, name, data, deadline)
    except (TimeoutError, OSError, asyncssh.Error) as e:
        raise _failure(e, settings, pinned, seen, late=loop.time() >= deadline) from None
    return done


async def _transfer(
    settings: SftpSettings,
    pinned: asyncssh.SSHKey,
    client_key: asyncssh.SSHKey,
    seen: list[asyncssh.SSHKey],
    name: str,
    data: bytes,
    deadline: float,
) -> Upload:
    # Connecting and logging in: cancelled at the deadline (asyncssh then aborts the
    # connection it was making), if connect_timeout has not ended it before.
    async with asyncio.timeout_at(deadline):
        conn = await asyncssh.connect(
            settings.host,
            settings.port,
            username=settings.username,
            client_keys=[client_key],
            known_hosts=([pinned], [], []),
            client_factory=lambda: _Client(seen),
            agent_path=None,
            password=None,
            kbdint_auth=False,
            connect_timeout=settings.timeout,
            config=[],
        )
    # Then the deadline aborts the connection rather than cancel this task: every request
    # still waiting fails at once ("connection closed"), asyncssh's parallel writes included,
    # and closing the file and the session waits for nothing. A cancellation would wait in the
    # file's close for an answer the server never sends, and leave those writes unretrieved.
    abort = asyncio.get_running_loop().call_at(deadline, conn.abort)
    try:
        async with conn, conn.start_sftp_client() as sftp:
            final = f"{settings.remote_dir.rstrip('/')}/{name}"
            temp = f"{settings.remote_dir.rstrip('/')}/.{name}.part"
            async with sftp.open(temp, "wb") as f:
                await f.write(data)
            size = (await sftp.stat(temp)).size
            if size != len(data):
                where = f"{settings.host}:{settings.port}"
                raise SftpError(
                    f"SFTP server {where}: {temp} has {size} bytes, not {len(data)}",
                    f"SFTP 伺服器 {where}：{temp} 大小為 {size}，應為 {len(data)}",
                )
            await sftp.posix_rename(temp, final)
    finally:
        abort.cancel()
    return Upload(final, len(data))


def _failure(
    e: BaseException,
    settings: SftpSettings,
    pinned: asyncssh.SSHKey,
    seen: list[asyncssh.SSHKey],
    *,
    late: bool,
) -> SftpError:
    """What went wrong, for the registrar (the upload is deferred and shown with it)."""
    where = f"{settings.host}:{settings.port}"
    if late:
        seconds = settings.upload_timeout
        return SftpError(
            f"SFTP server {where}: no complete answer within {seconds:g} s",
            f"SFTP 伺服器 {where}：{seconds:g} 秒內未收到完整回應",
        )
    if isinstance(e, asyncssh.HostKeyNotVerifiable):
        shown = seen[-1] if seen else None
        return HostKeyMismatchError(
            f"SFTP server {where} presented host key "
            f"{shown.get_fingerprint() if shown else 'unknown'}, but "
            f"{pinned.get_fingerprint()} is pinned in delivery.toml: refused (if the server's key "
            "really changed, confirm the new one with WES and pin it)",
            f"SFTP 伺服器 {where} 的主機金鑰與 delivery.toml 釘選的 {pinned.get_fingerprint()} "
            "不符，已拒絕連線（若對方確實更換金鑰，請向 WES 確認後更新設定）",
        )
    if isinstance(e, asyncssh.PermissionDenied):
        return SftpError(
            f"SFTP server {where} refused the key for user '{settings.username}'",
            f"SFTP 伺服器 {where} 拒絕使用者「{settings.username}」的金鑰",
        )
    if isinstance(e, asyncssh.SFTPError):
        return SftpError(f"SFTP server {where}: {e.reason}", f"SFTP 伺服器 {where}：{e.reason}")
    return SftpError(
        f"SFTP server {where}: cannot connect ({e})", f"SFTP 伺服器 {where}：無法連線（{e}）"
    )


def upload(settings: SftpSettings, key_path: Path, name: str, data: bytes) -> Upload:
    """Upload one file under ``name`` into the configured folder."""
    return asyncio.run(_upload(settings, key_path, name, data))
