"""A federated school's earlier status-list key on the HSM vouches for its successor.

Rotation retires a token's key by keeping, in ``keys/retired/``, the settings that name it;
``export-request`` for the next role version signs with it as well, as the federation operator
requires (docs/trust-list.md, "A new role version"). Here, beside the other HSM tests, because
SoftHSM2 reads its configuration once per process: one token fixture for the whole session.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from authority.hsm import HsmSettings
from authority.rotation import rotate_key
from authority.service import init_authority
from certseal import trustlist
from certseal.trustlist import OnboardingRequest
from tests.conftest import PASSPHRASE
from tests.federation.conftest import T0, request_for, school


def test_an_earlier_status_list_key_on_the_hsm_vouches_too(
    softhsm: HsmSettings, tmp_path: Path
) -> None:
    home = tmp_path / "NTHU"
    init_authority(home, school("NTHU"), PASSPHRASE, T0, hsm=softhsm, hsm_roles=("statuslist",))
    later = T0 + dt.timedelta(days=1)
    rot = rotate_key(home / "keys", school("NTHU"), "statuslist", PASSPHRASE, later)
    assert rot.on_hsm
    request = request_for(home, "NTHU", later + dt.timedelta(hours=1), version=2)
    role = OnboardingRequest.from_bytes(request).verify().role
    assert set(role.signatures) == {rot.old.spki_sha256, rot.new.spki_sha256}
    old = trustlist.tuf_key(rot.old.public_key())
    old.verify_signature(role.signatures[old.keyid], role.signed_bytes)
