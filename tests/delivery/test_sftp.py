"""WES uploads to a real SFTP server (asyncssh on 127.0.0.1, its own host key): the key pinned,
a temporary name then a rename, the file named by the WES reference number; a server that never
answers a request holds one upload for ``upload_timeout`` at most, never the run."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from authority.service import Authority
from delivery.config import DeliveryConfig, SftpSettings
from delivery.errors import DeliveryConfigError, HostKeyMismatchError, SftpError
from delivery.service import Delivery
from delivery.sftp import upload
from delivery.sink import SftpServer, host_key_line
from tests.conftest import ACTOR, NOW, Issued
from tests.delivery.conftest import PASSWORD_ENV, run_within, write_config
from tests.delivery.servers import SMTP_PASSWORD, SmtpServer, finish_within
from tests.delivery.test_mail import orders_csv

T = NOW + dt.timedelta(hours=4)
DEADLINE = 2  # seconds, for a whole upload in the tests of stalling servers


def _start(
    tmp_path: Path, handler: type[asyncssh.SFTPServer] = asyncssh.SFTPServer
) -> tuple[SftpServer, Path, Path, asyncssh.SSHKey]:
    """A running server over ``root``, answering with ``handler``; returns it, the root, the
    client's key file and the server's host key."""
    root = tmp_path / "wes"
    root.mkdir()
    client = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "client_key"
    client.write_private_key(str(key_file))
    host = asyncssh.generate_private_key("ssh-ed25519")
    public = client.export_public_key("openssh").decode()
    return SftpServer(root, host, public, handler).start(), root, key_file, host


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[tuple[SftpServer, Path, Path]]:
    """A running server over ``root``; returns it, the root and the client's key file."""
    server, root, key_file, _ = _start(tmp_path)
    yield server, root, key_file
    server.stop()


def _settings(server: SftpServer, key_file: Path, host_key: str | None = None) -> SftpSettings:
    return SftpSettings(
        host="127.0.0.1",
        username="wes",
        key_file=str(key_file),
        host_key=host_key or host_key_line(server.host_key),
        port=server.port,
        remote_dir="/",
    )


def test_upload_lands_under_its_name_with_no_temporary_left(
    sftp: tuple[SftpServer, Path, Path],
) -> None:
    server, root, key_file = sftp
    done = upload(_settings(server, key_file), key_file, "6123456_DOC.pdf", b"%PDF-1.7 test")
    assert done.remote_path == "/6123456_DOC.pdf" and done.size == 13
    assert (root / "6123456_DOC.pdf").read_bytes() == b"%PDF-1.7 test"
    assert [p.name for p in root.iterdir()] == ["6123456_DOC.pdf"]


def test_a_wrong_host_key_is_refused_with_both_fingerprints(
    sftp: tuple[SftpServer, Path, Path],
) -> None:
    server, root, key_file = sftp
    other = asyncssh.generate_private_key("ssh-ed25519")
    settings = _settings(server, key_file, host_key_line(other))
    with pytest.raises(HostKeyMismatchError, match="presented host key SHA256:") as caught:
        upload(settings, key_file, "6123456_DOC.pdf", b"%PDF")
    assert other.get_fingerprint() in caught.value.en
    assert server.host_key.get_fingerprint() in caught.value.en
    assert list(root.iterdir()) == []


def test_a_wes_order_is_uploaded_and_recorded(
    dhome: Path, sftp: tuple[SftpServer, Path, Path], issued: Issued
) -> None:
    server, root, key_file = sftp
    s = _settings(server, key_file)
    (dhome / "delivery.toml").write_text(
        f'[sftp]\nhost = "127.0.0.1"\nport = {s.port}\nusername = "wes"\n'
        f'key_file = "{key_file}"\nhost_key = "{s.host_key}"\nremote_dir = "/"\n'
    )
    with Authority(dhome) as auth, Delivery(auth) as d:
        doc = auth.registry.document(issued.diploma["transcript"])
        csv = orders_csv("ORDER-1", doc.student_id, [("original", "me@example.com")])
        csv = csv.replace(b",,,original", b",PTTC2001009,,original")
        assert d.import_orders(csv, now=NOW, actor=ACTOR, source="o.csv").rejected == ()
        # No SMTP server configured: the e-mail must wait, so send only the upload.
        wes = [v for v in d.outbox.deliveries() if v.channel == "sftp"]
        assert wes == []
        d.plan(now=T, actor=ACTOR)
        wes = [v for v in d.outbox.deliveries() if v.channel == "sftp"]
        assert [v.address for v in wes] == ["PTTC2001009"]
        outcome = d._deliver_one(wes[0], None, None, now=T, actor=ACTOR)
        view = d.outbox.delivery(wes[0].delivery_id)
    assert outcome.state == "sent" and view.state == "sent"
    uploaded = root / f"PTTC2001009_{doc.doc_id}.pdf"
    assert uploaded.read_bytes() == (dhome / doc.path).read_bytes()
    assert "uploaded /PTTC2001009_" in (view.answer or "")


def test_a_refused_host_key_defers_the_upload_and_says_why(
    dhome: Path, sftp: tuple[SftpServer, Path, Path], issued: Issued
) -> None:
    server, root, key_file = sftp
    other = host_key_line(asyncssh.generate_private_key("ssh-ed25519"))
    (dhome / "delivery.toml").write_text(
        f'[sftp]\nhost = "127.0.0.1"\nport = {server.port}\nusername = "wes"\n'
        f'key_file = "{key_file}"\nhost_key = "{other}"\n'
    )
    with Authority(dhome) as auth, Delivery(auth) as d:
        doc = auth.registry.document(issued.diploma["transcript"])
        csv = orders_csv("ORDER-1", doc.student_id, [("original", "me@example.com")])
        csv = csv.replace(b",,,original", b",6123456,,original")
        d.import_orders(csv, now=NOW, actor=ACTOR, source="o.csv")
        d.plan(now=T, actor=ACTOR)
        wes = next(v for v in d.outbox.deliveries() if v.channel == "sftp")
        d._deliver_one(wes, None, None, now=T, actor=ACTOR)
        view = d.outbox.delivery(wes.delivery_id)
    assert view.state == "deferred" and "is pinned in delivery.toml: refused" in (view.answer or "")
    assert list(root.iterdir()) == []


# -- servers that stop answering -------------------------------------------------------------


def test_upload_timeout_defaults_to_ten_minutes_and_is_never_shorter_than_one_wait() -> None:
    sftp = {"host": "wes.example", "username": "u", "key_file": "k", "host_key": "ssh-ed25519 A"}
    config = DeliveryConfig.from_dict({"sftp": sftp})
    assert config.sftp is not None
    assert (config.sftp.timeout, config.sftp.upload_timeout) == (30, 600)
    shorter = DeliveryConfig.from_dict({"sftp": {**sftp, "timeout": 5}}).sftp
    assert shorter is not None and shorter.timeout == 5
    with pytest.raises(DeliveryConfigError, match=r"\[sftp\] timeout .* upload_timeout \(60 s\)"):
        DeliveryConfig.from_dict({"sftp": {**sftp, "timeout": 90, "upload_timeout": 60}})
    with pytest.raises(DeliveryConfigError, match=r"\[sftp\] upload_timeout must be a int"):
        DeliveryConfig.from_dict({"sftp": {**sftp, "upload_timeout": "10 min"}})


def _stalling(at: str) -> type[asyncssh.SFTPServer]:
    """An SFTP server that never answers its first ``at`` request (``open``, ``write``,
    ``stat``, ``rename``), and answers every other one as usual."""
    left = [1]

    async def stall(name: str) -> None:
        if name == at and left[0]:
            left[0] -= 1
            await asyncio.sleep(60)

    class Stalling(asyncssh.SFTPServer):
        async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
            await stall("open")
            return super().open(path, pflags, attrs)

        async def write(self, file_obj: object, offset: int, data: bytes) -> int:
            await stall("write")
            return super().write(file_obj, offset, data)  # type: ignore[return-value]

        async def stat(self, path: bytes) -> object:
            await stall("stat")
            return super().stat(path)

        async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
            await stall("rename")
            super().posix_rename(oldpath, newpath)

    return Stalling


@pytest.fixture
def stalling_sftp(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SftpSettings, Path]]:
    """A server stalling at the test's parameter; its settings (upload_timeout = DEADLINE)
    and its root."""
    server, root, key_file, host = _start(tmp_path, _stalling(request.param))
    settings = SftpSettings(
        host="127.0.0.1",
        username="wes",
        key_file=str(key_file),
        host_key=host_key_line(host),
        port=server.port,
        remote_dir="/",
        timeout=DEADLINE,
        upload_timeout=DEADLINE,
    )
    yield settings, root
    server.stop()


@pytest.mark.parametrize("stalling_sftp", ["open", "write", "stat", "rename"], indirect=True)
def test_an_sftp_request_never_answered_ends_the_upload_at_its_deadline(
    stalling_sftp: tuple[SftpSettings, Path],
) -> None:
    """Before, ``connect_timeout`` bounded only connecting and logging in: a server that then
    never answered held the upload, and the run, for ever."""
    settings, root = stalling_sftp
    started = time.monotonic()
    with pytest.raises(SftpError, match=f"no complete answer within {DEADLINE} s") as e:
        finish_within(30, lambda: upload(settings, Path(settings.key_file), "1_D.pdf", b"%PDF"))
    assert time.monotonic() - started < DEADLINE + 8
    assert f"{DEADLINE} 秒內" in e.value.message("zh-TW")
    assert not (root / "1_D.pdf").exists()
    # The same server answers the next upload.
    done = finish_within(30, lambda: upload(settings, Path(settings.key_file), "2_D.pdf", b"%PDF"))
    assert (root / "2_D.pdf").read_bytes() == b"%PDF" and done.size == 4


@pytest.mark.parametrize("stalling_sftp", ["open"], indirect=True)
def test_a_stalled_upload_is_deferred_and_the_run_goes_on(
    dhome: Path,
    stalling_sftp: tuple[SftpSettings, Path],
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    issued: Issued,
) -> None:
    settings, root = stalling_sftp
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    write_config(
        dhome,
        smtp_server,
        extra=f'[sftp]\nhost = "127.0.0.1"\nport = {settings.port}\nusername = "wes"\n'
        f'key_file = "{settings.key_file}"\nhost_key = "{settings.host_key}"\n'
        f'remote_dir = "/"\ntimeout = {DEADLINE}\nupload_timeout = {DEADLINE}\n',
    )
    with Authority(dhome) as auth, Delivery(auth) as d:
        doc = auth.registry.document(issued.diploma["transcript"])
        csv = orders_csv("ORDER-1", doc.student_id, [("original", "me@example.com")])
        csv = csv.replace(b",,,original", b",PTTC2001009,,original")
        assert d.import_orders(csv, now=NOW, actor=ACTOR, source="o.csv").rejected == ()
        d.plan(now=T, actor=ACTOR)
        # A second upload of the same document (and a second e-mail), after the first.
        d.resend(doc.doc_id, now=T, actor=ACTOR)
    report, views, took = run_within(30, dhome, T)
    order = [o for o in report.outcomes if views[o.delivery_id].doc_id == doc.doc_id]
    assert [(views[o.delivery_id].channel, o.state) for o in order] == [
        ("email", "sent"),
        ("sftp", "deferred"),
        ("email", "sent"),
        ("sftp", "sent"),
    ]
    stalled = views[order[1].delivery_id]
    assert stalled.state == "deferred" and stalled.retry_at is not None
    assert f"no complete answer within {DEADLINE} s" in (stalled.answer or "")
    assert (root / f"PTTC2001009_{doc.doc_id}.pdf").read_bytes() == (dhome / doc.path).read_bytes()
    assert took < DEADLINE + 15
