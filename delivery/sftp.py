"""Uploads to WES by SFTP (asyncssh): key authentication, the host key pinned, temporary name
then rename.

The server's host key must equal the one in ``delivery.toml``: asyncssh is given it as the only
trusted key, so any other key (a new server, a man in the middle) is refused with both
fingerprints named. A file is written as ``.NAME.part`` and renamed into place (POSIX rename,
which replaces atomically), so WES never picks up half a file and a re-run after a crash simply
uploads again under the same name.
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
    where = f"{settings.host}:{settings.port}"
    try:
        async with (
            asyncssh.connect(
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
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            final = f"{settings.remote_dir.rstrip('/')}/{name}"
            temp = f"{settings.remote_dir.rstrip('/')}/.{name}.part"
            async with sftp.open(temp, "wb") as f:
                await f.write(data)
            size = (await sftp.stat(temp)).size
            if size != len(data):
                raise SftpError(
                    f"SFTP server {where}: {temp} has {size} bytes, not {len(data)}",
                    f"SFTP 伺服器 {where}：{temp} 大小為 {size}，應為 {len(data)}",
                )
            await sftp.posix_rename(temp, final)
            return Upload(final, len(data))
    except asyncssh.HostKeyNotVerifiable:
        shown = seen[-1] if seen else None
        raise HostKeyMismatchError(
            f"SFTP server {where} presented host key "
            f"{shown.get_fingerprint() if shown else 'unknown'}, but "
            f"{pinned.get_fingerprint()} is pinned in delivery.toml: refused (if the server's key "
            "really changed, confirm the new one with WES and pin it)",
            f"SFTP 伺服器 {where} 的主機金鑰與 delivery.toml 釘選的 {pinned.get_fingerprint()} "
            "不符，已拒絕連線（若對方確實更換金鑰，請向 WES 確認後更新設定）",
        ) from None
    except asyncssh.PermissionDenied:
        raise SftpError(
            f"SFTP server {where} refused the key for user '{settings.username}'",
            f"SFTP 伺服器 {where} 拒絕使用者「{settings.username}」的金鑰",
        ) from None
    except asyncssh.SFTPError as e:
        raise SftpError(
            f"SFTP server {where}: {e.reason}", f"SFTP 伺服器 {where}：{e.reason}"
        ) from None
    except (TimeoutError, OSError, asyncssh.Error) as e:
        raise SftpError(
            f"SFTP server {where}: cannot connect ({e})", f"SFTP 伺服器 {where}：無法連線（{e}）"
        ) from None


def upload(settings: SftpSettings, key_path: Path, name: str, data: bytes) -> Upload:
    """Upload one file under ``name`` into the configured folder."""
    return asyncio.run(_upload(settings, key_path, name, data))
