"""Copying a published folder while it is being published into, or being killed halfway: a
reader of the copy never follows a pointer to a file the copy lacks, and never finds part of a
file under its name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from certseal.files import publish_tree, write_file


def _publisher(source: Path, stop: threading.Event) -> None:
    """A school publishing again and again: a new version's file, then the pointer to it."""
    n = 0
    while not stop.is_set():
        n += 1
        write_file(source / "v" / f"{n}.json", json.dumps({"version": n}).encode(), durable=False)
        write_file(source / "timestamp.json", json.dumps({"names": f"v/{n}.json"}).encode())


def test_a_copy_made_while_the_source_is_published_into_names_only_files_it_has(
    tmp_path: Path,
) -> None:
    """Before, the pointer was read after the walk: a version published meanwhile was named by
    the copy's pointer without its file."""
    source, target = tmp_path / "source", tmp_path / "target"
    write_file(source / "v" / "0.json", b"{}")
    write_file(source / "timestamp.json", json.dumps({"names": "v/0.json"}).encode())
    stop = threading.Event()
    writer = threading.Thread(target=_publisher, args=(source, stop))
    writer.start()
    missing = []
    try:
        deadline = time.monotonic() + 3
        copies = 0
        while time.monotonic() < deadline and copies < 400:
            publish_tree(source, target, ("timestamp.json",))
            copies += 1
            named = json.loads((target / "timestamp.json").read_bytes())["names"]
            if not (target / named).exists():
                missing.append(named)
    finally:
        stop.set()
        writer.join()
    assert missing == []
    # Nothing of a write in progress (its temporary dot file) was published.
    assert not [p for p in target.rglob(".*")]


_COPY = """
import sys
from pathlib import Path
from certseal.files import publish_tree
publish_tree(Path(sys.argv[1]), Path(sys.argv[2]), ("timestamp.json",))
"""


def test_a_copy_killed_halfway_leaves_no_part_of_a_file(tmp_path: Path) -> None:
    """Before, a file was copied in place: killed halfway, the part stayed under the file's
    name, and the next copy skipped it as present, for good."""
    source, target = tmp_path / "source", tmp_path / "target"
    big = os.urandom(1 << 20) * 64  # 64 MB: long enough to be caught writing
    write_file(source / "shard.bin", big, durable=False)
    write_file(source / "timestamp.json", b'{"names": "shard.bin"}')
    copy = subprocess.Popen(
        [sys.executable, "-c", _COPY, str(source), str(target)], cwd=Path(__file__).parents[1]
    )
    try:
        for _ in range(600):  # until the copy has started writing
            if target.exists() and any(target.iterdir()):
                break
            time.sleep(0.01)
        copy.send_signal(signal.SIGKILL)
    finally:
        copy.wait()
    # Whatever is under the file's name is the whole file; then a new copy completes it.
    if (target / "shard.bin").exists():
        assert (target / "shard.bin").stat().st_size == len(big)
    publish_tree(source, target, ("timestamp.json",))
    assert (target / "shard.bin").read_bytes() == big
    assert (target / "timestamp.json").read_bytes() == b'{"names": "shard.bin"}'
