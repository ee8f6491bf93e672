"""Check a school's published status list end to end, with nothing but Python and cryptography.

Usage: python3 audit_status_list.py [SITE_URL]
"""

import base64
import hashlib
import json
import sys
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

SITE = sys.argv[1] if len(sys.argv) > 1 else "https://verify.example.edu.tw/"
if not SITE.startswith(("https://", "http://")):
    raise SystemExit("give the site's http(s) address")


def get(path):
    with urllib.request.urlopen(SITE.rstrip("/") + "/" + path) as response:  # noqa: S310
        return response.read()


# 1. The status-list key. Compare KEYID with the one the school announces elsewhere.
key = x509.load_pem_x509_certificate(get("certs/statuslist.pem")).public_key()
spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
KEYID = hashlib.sha256(spki).hexdigest()
print("status-list key id:", KEYID)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def open_envelope(data):
    envelope = json.loads(data)
    sig = next(s for s in envelope["signatures"] if s["keyid"] == KEYID)
    raw = base64.b64decode(sig["sig"], validate=True)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    # Raises InvalidSignature if the body was changed or signed by another key.
    key.verify(
        utils.encode_dss_signature(r, s), canonical(envelope["signed"]), ec.ECDSA(hashes.SHA256())
    )
    return envelope["signed"]


def pinned(path, sha256, length=None):
    data = get("status/" + path)
    if (length is not None and len(data) != length) or hashlib.sha256(data).hexdigest() != sha256:
        raise SystemExit(f"{path} does not match the hash its signed parent pins")
    return data


# 2. The timestamp and the snapshot it pins, both signed.
timestamp = open_envelope(get("status/timestamp.json"))
ref = timestamp["snapshot"]
snapshot = open_envelope(pinned(ref["path"], ref["sha256"], ref["length"]))
assert snapshot["version"] == timestamp["version"], "snapshot and timestamp disagree"
print(
    "version", snapshot["version"], "issued", snapshot["issued_at"], "expires", snapshot["expires"]
)

# 3. Every bucket and shard, each pinned by the file above it; the entries add up to the counts.
counts = dict.fromkeys(snapshot["counts"], 0)
for bucket_hash in snapshot["buckets"].values():
    bucket = json.loads(pinned(f"buckets/{bucket_hash}.json", bucket_hash))
    for shard_hash in bucket["shards"].values():
        shard = json.loads(pinned(f"shards/{shard_hash}.json", shard_hash))
        for entry in shard["entries"]:
            counts[entry["state"]] = counts.get(entry["state"], 0) + 1
assert counts == snapshot["counts"], f"entries {counts} differ from the counts signed"
print("all", sum(counts.values()), "entries check out:", counts)
# 4. Keep the version: a later audit must never see a smaller one.
