"""Reading a roster file (units, desks, officers, procedures) for the kiosk store.

The demo ships assets/demo/roster.json; a real kiosk gets its roster from
the town server's kiosk config (the sync agent applies it). Plain PINs in a
file are hashed on load; photo paths are made absolute from the file's folder.
"""
from __future__ import annotations

import json
from pathlib import Path

from assets import ASSETS
from sync.protocol import hash_pin, nfc

DEMO_ROSTER = ASSETS / "demo" / "roster.json"


def load_roster_file(path: str | Path = DEMO_ROSTER) -> dict:
    path = Path(path)
    roster = nfc(json.loads(path.read_text("utf-8")))
    for officer in roster.get("officers", []):
        pin = officer.pop("pin", None)
        if pin and not officer.get("pin_hash"):
            officer["pin_hash"] = hash_pin(str(pin))
        photo = officer.get("photo")
        if photo and not Path(photo).is_absolute():
            officer["photo"] = str((path.parent / photo).resolve())
    return roster
