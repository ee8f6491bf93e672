"""WES uploads to a real SFTP server (asyncssh on 127.0.0.1, its own host key): the key pinned,
a temporary name then a rename, the file named by the WES reference number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncssh
import pytest

from authority.service import Authority
from delivery.config import SftpSettings
from delivery.errors import HostKeyMismatchError
from delivery.service import Delivery
from delivery.sftp import upload
from delivery.sink import SftpServer, host_key_line
from tests.conftest import ACTOR, NOW, Issued
from tests.delivery.test_mail import orders_csv

T = NOW + dt.timedelta(hours=4)


@pytest.fixture
def sftp(tmp_path: Path) -> tuple[SftpServer, Path, Path]:
    """A running server over ``root``; returns it, the root and the client's key file."""
    root = tmp_path / "wes"
    root.mkdir()
    client = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "client_key"
    client.write_private_key(str(key_file))
    host = asyncssh.generate_private_key("ssh-ed25519")
    server = SftpServer(root, host, client.export_public_key("openssh").decode()).start()
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
