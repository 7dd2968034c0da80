"""`hailong kiosk provision FILE` (issue 14): a kiosk started from a bundle, with no network.

The bundles come from a real town.db (`hailong admin kiosk-bundle` on the demo
roster); the kiosk side runs the real command line. What an installer would
check: config.toml and kiosk.db written 0600, the roster with photos, the
receipt key, the chain verified; a newer bundle updates the roster and keeps
every rating; what is wrong is refused with a clear line and writes nothing.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

from kiosk.store import KioskStore
from sync import bundle

DEMO_ROSTER = ROOT / "assets" / "demo" / "roster.json"


def hailong(*args, stdin: str | None = None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hailong", *map(str, args)], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "LANG": "C", "LANGUAGE": "vi", **(env or {})})


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


class Town:
    """A town.db with the demo roster and kiosks K1, K2 enrolled; ``bundle()`` makes a bundle."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.db = folder / "town.db"
        ok(hailong("admin", "--db", self.db, "import-roster", DEMO_ROSTER))
        self.k1 = json.loads(ok(hailong("admin", "--db", self.db, "enrol-kiosk", "--kiosk-id", "K1", "--unit",
                                        "13321", "--json")).stdout)
        self.k2 = json.loads(ok(hailong("admin", "--db", self.db, "enrol-kiosk", "--kiosk-id", "K2", "--unit",
                                        "13321", "--json")).stdout)
        self.made = 0

    def bundle(self, kiosk="K1", *extra) -> tuple[Path, str]:
        self.made += 1
        out = self.folder / f"{kiosk}-{self.made}.hlk"
        proc = ok(hailong("admin", "--db", self.db, "kiosk-bundle", "--kiosk-id", kiosk, "--desk", "quay-1",
                          "--server-url", "http://127.0.0.1:9", "--out", out, *extra))
        return out, proc.stdout.strip()


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> Town:
    return Town(tmp_path_factory.mktemp("town"))


def provision(bundle_file, config, passphrase, *extra, env=None):
    return hailong("kiosk", "provision", bundle_file, "--config", config, "--passphrase-stdin", *extra,
                   stdin=passphrase + "\n", env=env)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_kiosk_is_provisioned_from_a_bundle(town, tmp_path):
    file, passphrase = town.bundle()
    config = tmp_path / "kiosk" / "config.toml"
    proc = ok(provision(file, config, passphrase))
    assert "K1" in proc.stdout and "quay-1" in proc.stdout and "5 cán bộ" in proc.stdout, proc.stdout
    assert mode(config) == 0o600 and mode(config.parent / "kiosk.db") == 0o600
    text = config.read_text("utf-8")
    assert 'id = "K1"' in text and 'desk_id = "quay-1"' in text and town.k1["key"] in text
    assert town.k1["token"] not in text          # a full bundle carries a new token: the enrolment's is dead
    store = KioskStore(config.parent / "kiosk.db", "K1", town.k1["key"])
    officers = {o["id"]: o for o in store.officers()}
    assert sorted(officers) == ["cb-001", "cb-002", "cb-003", "cb-004", "cb-005"]
    assert officers["cb-001"]["name"] == "Nguyễn Thị Hồng Nhung"
    photo = Path(officers["cb-001"]["photo"])
    assert photo.parent == config.parent / "photos" and photo.read_bytes() == (
        ROOT / "assets" / "demo" / "photos" / "cb-001.png").read_bytes()
    assert len(json.loads(store.get_meta("receipt_key"))) == 64
    store.close()
    ok(hailong("kiosk", "verify", "--config", config))


def test_the_same_bundle_twice_changes_nothing_and_a_newer_one_keeps_the_ratings(town, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('# the installer\'s settings\n[kiosk]\nid = "K1"\nunit_code = "13321"\ndesk_id = "quay-1"\n'
                      'db = "data/kiosk.db"\n\n[printer]\nport = "/dev/serial/by-id/usb-printer"  # 58 mm\n'
                      '\n[ui]\ninput_provider = "mtdev"\n', "utf-8")
    first, pass1 = town.bundle()
    ok(provision(first, config, pass1))
    again = ok(provision(first, config, pass1))
    assert "đã được áp dụng" in again.stdout
    text = config.read_text("utf-8")
    assert "# the installer's settings" in text and 'port = "/dev/serial/by-id/usb-printer"  # 58 mm' in text
    assert 'input_provider = "mtdev"' in text and 'db = "data/kiosk.db"' in text
    db = tmp_path / "data" / "kiosk.db"
    key = town.k1["key"]
    store = KioskStore(db, "K1", key)
    for level in (3, 1, 2):
        store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=level)
    before = store.records()
    store.close()
    # the town adds an officer; a newer bundle brings them, the ratings stay as they were
    roster = json.loads(DEMO_ROSTER.read_text("utf-8"))
    for officer in roster["officers"]:
        officer["photo"] = str(DEMO_ROSTER.parent / officer["photo"])
    roster["officers"].append({"id": "cb-009", "name": "Đặng Thị Thu Hà", "title": "Công chức", "desk_id": "quay-1"})
    (town.folder / "more.json").write_text(json.dumps(roster, ensure_ascii=False), "utf-8")
    ok(hailong("admin", "--db", town.db, "import-roster", town.folder / "more.json"))
    second, pass2 = town.bundle()
    ok(provision(second, config, pass2))
    store = KioskStore(db, "K1", key)
    assert store.records() == before
    assert "cb-009" in {o["id"] for o in store.officers()}
    store.close()
    ok(hailong("kiosk", "verify", "--config", config))
    # the first bundle is older now: refused, unless --force
    older = provision(first, config, pass1)
    assert older.returncode == 1 and "trước tệp đã áp dụng" in older.stderr, older.stderr
    assert "cb-009" in {o["id"] for o in KioskStore(db, "K1", key).officers()}
    ok(provision(first, config, pass1, "--force"))
    assert KioskStore(db, "K1", key).records() == before


def test_a_wrong_passphrase_or_an_altered_file_writes_nothing(town, tmp_path):
    file, passphrase = town.bundle()
    config = tmp_path / "config.toml"
    wrong = provision(file, config, "AAAAA-BBBBB-CCCCC-DDDDD")
    assert wrong.returncode == 1 and "Sai cụm mật khẩu" in wrong.stderr, wrong.stderr
    assert not config.exists() and not (tmp_path / "kiosk.db").exists()
    doc = json.loads(file.read_text("utf-8"))
    for name, change in (("desk", {"desk_id": "quay-2"}), ("credentials", {"credentials": False}),
                         ("ciphertext", {"ciphertext": doc["ciphertext"][:40] + ("A" if doc["ciphertext"][40] != "A"
                                                                                 else "B") + doc["ciphertext"][41:]})):
        bad = tmp_path / f"{name}.hlk"
        bad.write_text(json.dumps({**doc, **change}), "utf-8")
        proc = provision(bad, config, passphrase)
        assert proc.returncode == 1 and "bị sửa đổi" in proc.stderr, (name, proc.stderr)
        assert not config.exists()
    # the passphrase as an installer types it off paper: lower case, spaces, O for 0
    typed = passphrase.lower().replace("-", " ").replace("0", "o")
    ok(provision(file, config, typed))


@pytest.mark.parametrize("content,words", [
    (b"", "không phải tệp JSON"),
    (b"\xff\xfe\x00garbage", "không phải tệp JSON"),
    (b'{"format": "something-else"}', "hailong-kiosk-bundle"),
    (b'{"format": "hailong-kiosk-bundle", "version": 9}', "phiên bản 9"),
    (b'{"format": "hailong-kiosk-bundle", "version": 1, "kdf": {"name": "scrypt", "n": 1073741824, "r": 8, "p": 1}}',
     "kdf"),
    (b"[1, 2, 3]", "hailong-kiosk-bundle"),
], ids=["empty", "binary", "other-format", "newer-version", "costly-kdf", "a-list"])
def test_hostile_files_are_refused_with_a_clear_line(tmp_path, content, words):
    file = tmp_path / "stick.hlk"
    file.write_bytes(content)
    proc = provision(file, tmp_path / "config.toml", "AAAAA-BBBBB-CCCCC-DDDDD")
    assert proc.returncode == 1 and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "config.toml").exists()


def test_missing_huge_and_folder_files(tmp_path):
    missing = provision(tmp_path / "nope.hlk", tmp_path / "config.toml", "x")
    assert missing.returncode == 2 and "không có tệp này" in missing.stderr, missing.stderr
    huge = tmp_path / "huge.hlk"
    with open(huge, "wb") as fh:
        fh.truncate(bundle.MAX_BYTES + 1)        # sparse: never read whole
    proc = provision(huge, tmp_path / "config.toml", "x")
    assert proc.returncode == 1 and "lớn hơn" in proc.stderr, proc.stderr
    folder = provision(tmp_path, tmp_path / "config.toml", "x")
    assert folder.returncode != 0 and "Traceback" not in folder.stderr


def test_another_kiosks_bundle_never_joins_this_chain(town, tmp_path):
    file, passphrase = town.bundle("K1")
    config = tmp_path / "config.toml"
    ok(provision(file, config, passphrase))
    store = KioskStore(tmp_path / "kiosk.db", "K1", town.k1["key"])
    store.append(unit_code="13321", desk_id="quay-1", officer_id="cb-001", level=3)
    store.close()
    other, other_pass = town.bundle("K2")
    proc = provision(other, config, other_pass, env={"LANGUAGE": "en"})
    assert proc.returncode == 1 and "holds 1 ratings of kiosk K1" in proc.stderr, proc.stderr
    assert 'id = "K1"' in config.read_text("utf-8")


def test_a_roster_only_bundle_needs_a_provisioned_kiosk_and_keeps_its_token(town, tmp_path):
    roster_only, passphrase = town.bundle("K1", "--roster-only")
    header = bundle.read_header(roster_only.read_bytes())
    assert header["credentials"] is False
    fresh = provision(roster_only, tmp_path / "new" / "config.toml", passphrase)
    assert fresh.returncode == 1 and "--roster-only" in fresh.stderr, fresh.stderr
    full, full_pass = town.bundle("K1")
    config = tmp_path / "config.toml"
    ok(provision(full, config, full_pass))
    token = [line for line in config.read_text("utf-8").splitlines() if line.startswith("token")]
    newer, newer_pass = town.bundle("K1", "--roster-only")
    proc = ok(provision(newer, config, newer_pass))
    assert "giữ nguyên" in proc.stdout
    assert [line for line in config.read_text("utf-8").splitlines() if line.startswith("token")] == token


def test_english_messages(town, tmp_path):
    file, passphrase = town.bundle()
    proc = provision(file, tmp_path / "config.toml", "AAAAA-BBBBB-CCCCC-DDDDD", env={"LANGUAGE": "en"})
    assert proc.returncode == 1 and "The passphrase is wrong" in proc.stderr, proc.stderr
    done = ok(provision(file, tmp_path / "config.toml", passphrase, env={"LANGUAGE": "en"}))
    assert "Provisioned kiosk K1" in done.stdout, done.stdout
