"""`hailong verify-pack` against a real pack and against packs changed after the server signed them.

The pack is written by `hailong admin evidence-pack` from a running town
that received the hand-checked ratings from a kiosk over HTTP (tests/town.py).
Each change is what someone handling the file could do: one byte of any
member, a rating line taken out, a member added or removed, the manifest
signed again with another key. Changes that keep the hashes and signature
right (re-signed with the server's own key, as only its holder could) reach
the deeper checks: the chains, the figures, the Word report's numbers.
Every run is the real command line in a fresh interpreter; messages are the
Vietnamese defaults.
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import ROOT
from town import Town, hailong

from sync import cli_i18n, evidence, protocol
from sync.server.core.signing import SETTING, public_key_hex

KIOSK = "ki-ot-1"


def verify(pack: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in cli_i18n.ENV_VARS}
    out = subprocess.run([sys.executable, "-m", "hailong.cli", "verify-pack", str(pack), *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**env, "PYTHONPATH": str(ROOT)})
    return out.returncode, out.stdout + out.stderr


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(pack path, the server's private key, its public key hex) of a town's fourth quarter of 2026."""
    tmp = tmp_path_factory.mktemp("pack")
    town = Town(tmp)
    try:
        pack = tmp / "hoso-2026-Q4.zip"
        hailong(town.db, "admin", "evidence-pack", "--period", "2026-Q4", "--out", str(pack))
    finally:
        town.stop()
    with sqlite3.connect(town.db) as con:
        (value,) = con.execute("SELECT value FROM settings WHERE key = ?", (SETTING,)).fetchone()
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(json.loads(value)))
    return pack, key, public_key_hex(key)


def members(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def resign(files: dict[str, bytes], key: Ed25519PrivateKey) -> dict[str, bytes]:
    """The manifest made again for the members as they are now, signed with ``key`` (and its public key)."""
    files = dict(files)
    public = public_key_hex(key)
    files[evidence.PUBLIC_KEY] = (public + "\n").encode()
    manifest = json.loads(files[evidence.MANIFEST])
    manifest["public_key"] = public
    manifest["members"] = [{"name": m["name"], "sha256": hashlib.sha256(files[m["name"]]).hexdigest(),
                            "size": len(files[m["name"]])} for m in manifest["members"] if m["name"] in files]
    files[evidence.MANIFEST] = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    files[evidence.SIGNATURE] = evidence.sign(files[evidence.MANIFEST], key)
    return files


def jsonl(files) -> list[dict]:
    return [json.loads(line) for line in files[evidence.RATINGS_JSONL].decode().splitlines()]


def with_jsonl(files, records) -> dict[str, bytes]:
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]
    return {**files, evidence.RATINGS_JSONL: ("\n".join(lines) + "\n").encode()}


def refused(code_out, *words):
    code, out = code_out
    assert code == 1, out
    assert "Hồ sơ KHÔNG nguyên vẹn" in out, out
    for w in words:
        assert w in out, out
    return out


# --- a whole pack ----------------------------------------------------------------------------

def test_a_pack_from_a_real_town_verifies_with_the_pinned_key(made):
    pack, _key, public = made
    code, out = verify(pack, "--key", evidence.key_text(public))      # as copied from the report
    assert code == 0, out
    assert "Hồ sơ nguyên vẹn: 2026-Q4 (Quý IV năm 2026), 10 đánh giá của 1 ki-ốt." in out
    assert evidence.key_text(public) in out
    assert "Chữ ký đúng với khóa đã chỉ định (--key)." in out
    assert "Chỉ kiểm tra với khóa nằm trong chính hồ sơ" not in out


def test_without_key_it_says_only_the_packs_own_key_was_checked_and_prints_it(made):
    pack, _key, public = made
    code, out = verify(pack)
    assert code == 0, out
    assert "Chỉ kiểm tra với khóa nằm trong chính hồ sơ" in out
    assert f"Khóa công khai: {evidence.key_text(public)}" in out


def test_english_when_the_environment_says_so(made, tmp_path):
    pack, _key, _public = made
    env = {k: v for k, v in os.environ.items() if k not in cli_i18n.ENV_VARS}
    out = subprocess.run([sys.executable, "-m", "hailong.cli", "verify-pack", str(pack)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120, env={**env, "LANG": "en_US.UTF-8", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0 and "The pack is whole: 2026-Q4" in out.stdout, out.stdout + out.stderr
    files = members(pack)
    files[evidence.FIGURES] = files[evidence.FIGURES].replace(b'"satisfied": 6', b'"satisfied": 7', 1)
    bad = write(tmp_path / "en.zip", files)
    out = subprocess.run([sys.executable, "-m", "hailong.cli", "verify-pack", str(bad)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120, env={**env, "LANG": "en_US.UTF-8", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1 and "The pack is NOT whole: figures.json: SHA-256 does not match" in out.stderr


# --- one byte of any member -------------------------------------------------------------------

@pytest.mark.parametrize("name", [*evidence.MEMBERS, evidence.MANIFEST, evidence.SIGNATURE])
def test_one_byte_changed_in_any_member_fails_naming_it(made, tmp_path, name):
    pack, _key, _public = made
    files = members(pack)
    data = bytearray(files[name])
    if name == evidence.MANIFEST:     # a digit of created_at: still JSON, no longer what was signed
        at = files[name].index(b'"created_at": "') + len(b'"created_at": "') + 3
    elif name == evidence.SIGNATURE:
        at = 10
    else:
        at = len(data) // 2
    data[at] = data[at] ^ 0x01 if name not in (evidence.MANIFEST, evidence.SIGNATURE) else \
        (ord("1") if data[at] != ord("1") else ord("2"))
    files[name] = bytes(data)
    out = refused(verify(write(tmp_path / "p.zip", files)))
    if name in (evidence.MANIFEST, evidence.SIGNATURE):
        assert "manifest.sig: chữ ký của manifest.json không đúng với khóa" in out
    else:
        assert f"{name}: SHA-256 không khớp với manifest.json" in out


def test_a_damaged_byte_of_the_zip_itself_fails(made, tmp_path):
    pack, _key, _public = made
    raw = bytearray(pack.read_bytes())
    with zipfile.ZipFile(pack) as zf:
        info = zf.getinfo(evidence.RATINGS_JSONL)
    raw[info.header_offset + 30 + len(info.filename) + 40] ^= 0xFF      # inside its compressed data
    bad = tmp_path / "damaged.zip"
    bad.write_bytes(bytes(raw))
    refused(verify(bad), "ratings.jsonl:")


# --- ratings taken out, members added or missing --------------------------------------------

def test_a_rating_line_removed_fails(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    records = jsonl(files)
    gone = [r for r in records if r["seq"] != 5]
    refused(verify(write(tmp_path / "a.zip", with_jsonl(files, gone))), "ratings.jsonl: SHA-256 không khớp")
    # even signed again by the server's own key: the chain has a hole nobody was told of
    out = refused(verify(write(tmp_path / "b.zip", resign(with_jsonl(files, gone), key))))
    assert "ratings.jsonl: ki-ốt ki-ot-1: thiếu số 5–5 (trước số 6) và không có cảnh báo nào" in out


def test_a_gap_the_servers_alerts_name_is_accepted_and_then_the_counts_must_still_agree(made, tmp_path):
    """A missing run the pack's alerts account for passes the chain check (and is reported); the
    rest of the pack must still agree with the ratings it holds."""
    pack, key, _public = made
    files = members(pack)
    gone = [r for r in jsonl(files) if r["seq"] != 5]
    alerts = json.loads(files[evidence.ALERTS])
    alerts["alerts"].append({"id": 99, "kind": "gap", "kiosk_id": KIOSK, "seq_from": 5, "seq_to": 5})
    files = {**with_jsonl(files, gone), evidence.ALERTS: json.dumps(alerts).encode()}
    out = refused(verify(write(tmp_path / "c.zip", resign(files, key))))
    assert "ki-ốt ki-ot-1: 9 đánh giá, chains.json ghi 10" in out


def test_a_member_added_fails(made, tmp_path):
    pack, _key, _public = made
    files = {**members(pack), "ghi-chu.txt": b"them vao sau"}
    refused(verify(write(tmp_path / "p.zip", files)), "ghi-chu.txt: thừa, không có trong danh sách của manifest.json")


def test_a_member_missing_fails(made, tmp_path):
    pack, _key, _public = made
    files = members(pack)
    del files[evidence.CASES]
    refused(verify(write(tmp_path / "p.zip", files)), "cases.json: thiếu trong hồ sơ (manifest.json liệt kê nó)")


def test_a_member_left_out_of_the_manifest_fails_even_when_signed(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    del files[evidence.LETTERS]
    refused(verify(write(tmp_path / "p.zip", resign(files, key))),
            "letters.json: không có trong danh sách của manifest.json")


# --- keys -----------------------------------------------------------------------------------

def test_signed_again_with_another_key_fails_when_the_key_is_pinned(made, tmp_path):
    pack, _key, public = made
    other = Ed25519PrivateKey.generate()
    files = members(pack)
    files[evidence.FIGURES] = files[evidence.FIGURES].replace(b'"satisfied": 6', b'"satisfied": 6 ', 1)
    forged = write(tmp_path / "forged.zip", resign(files, other))
    out = refused(verify(forged, "--key", public))
    assert f"hồ sơ được ký bằng khóa {evidence.key_text(public_key_hex(other))}" in out
    assert f"không phải khóa đã chỉ định {evidence.key_text(public)}" in out
    # without --key: the report inside still prints the server's key
    out = refused(verify(forged), "report.docx: khóa công khai in trong báo cáo")
    # a forger who prints their key in the report too: whole by its own key, and the summary prints
    # that key, not the server's (which the inspector compares with a report on paper)
    files = _docx_with(files, evidence.key_text(public), evidence.key_text(public_key_hex(other)))
    code, out = verify(write(tmp_path / "forged2.zip", resign(files, other)))
    assert code == 0, out
    assert evidence.key_text(public_key_hex(other)) in out and evidence.key_text(public) not in out
    assert "Chỉ kiểm tra với khóa nằm trong chính hồ sơ" in out


def test_a_signature_by_another_key_under_the_servers_public_key_fails(made, tmp_path):
    pack, _key, public = made
    files = members(pack)
    files[evidence.SIGNATURE] = evidence.sign(files[evidence.MANIFEST], Ed25519PrivateKey.generate())
    refused(verify(write(tmp_path / "p.zip", files)), "manifest.sig: chữ ký của manifest.json không đúng với khóa",
            evidence.key_text(public))


def test_a_key_that_is_not_one_is_refused(made):
    pack, _key, _public = made
    refused(verify(pack, "--key", "abc"), "--key: phải gồm 64 chữ số thập lục phân")


# --- the chain ------------------------------------------------------------------------------

def test_a_rating_changed_and_signed_again_breaks_its_hash(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    records = jsonl(files)
    for r in records:
        if r["seq"] == 6:
            r["level"] = 3
    out = refused(verify(write(tmp_path / "p.zip", resign(with_jsonl(files, records), key))))
    assert "ratings.jsonl: ki-ốt ki-ot-1 số 6: mã băm không khớp với nội dung đánh giá" in out


def test_a_rating_forged_with_its_hash_made_again_breaks_the_link_to_the_next(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    records = jsonl(files)
    for r in records:
        if r["seq"] == 6:
            r["level"] = 3
            r["hash"] = protocol.record_hash(r["prev_hash"], r)
    out = refused(verify(write(tmp_path / "p.zip", resign(with_jsonl(files, records), key))))
    assert "ratings.jsonl: ki-ốt ki-ot-1 số 7: prev_hash không nối với mã băm của số 6" in out


def test_the_last_rating_taken_off_is_not_the_stated_head(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    records = jsonl(files)
    out = refused(verify(write(tmp_path / "p.zip", resign(with_jsonl(files, records[:-1]), key))))
    last = records[-1]["seq"]
    assert f"ki-ốt ki-ot-1: đánh giá cuối trong hồ sơ là số {last - 1}, chains.json ghi đầu chuỗi là số {last}" in out


def test_a_rating_given_twice_fails(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    records = jsonl(files)
    records.insert(4, records[3])
    refused(verify(write(tmp_path / "p.zip", resign(with_jsonl(files, records), key))),
            f"ki-ốt ki-ot-1 số {records[3]['seq']}: sai thứ tự hoặc lặp lại (sau số {records[3]['seq']})")


# --- the figures ----------------------------------------------------------------------------

def test_figures_that_disagree_with_the_ratings_fail(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    figures = json.loads(files[evidence.FIGURES])
    assert figures["overall"] == {"total": 10, "misuse": 2, "valid": 8, "satisfied": 6, "rate": 75.0}
    figures["overall"]["satisfied"] = 7
    files[evidence.FIGURES] = json.dumps(figures, ensure_ascii=False).encode()
    refused(verify(write(tmp_path / "p.zip", resign(files, key))),
            "figures.json: số liệu chung: số lượt hài lòng ghi 7, các đánh giá trong hồ sơ cho 6")


def test_an_officers_figures_that_disagree_fail(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    figures = json.loads(files[evidence.FIGURES])
    nhung = next(o for o in figures["officers"] if o["id"] == "cb-001")
    assert (nhung["valid"], nhung["satisfied"], nhung["rate"]) == (3, 2, 66.7)
    nhung["rate"] = 70.0
    files[evidence.FIGURES] = json.dumps(figures, ensure_ascii=False).encode()
    refused(verify(write(tmp_path / "p.zip", resign(files, key))),
            "figures.json: cán bộ cb-001: tỷ lệ hài lòng ghi 70.0, các đánh giá trong hồ sơ cho 66.7")


def _docx_with(files, old: str, new: str) -> dict[str, bytes]:
    src = zipfile.ZipFile(io.BytesIO(files[evidence.REPORT]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                text = data.decode()
                assert old in text
                data = text.replace(old, new, 1).encode()
            dst.writestr(item, data)
    return {**files, evidence.REPORT: out.getvalue()}


def test_a_report_whose_printed_rate_disagrees_fails(made, tmp_path):
    pack, key, _public = made
    files = _docx_with(members(pack), "Tỷ lệ hài lòng chung: 75,0%", "Tỷ lệ hài lòng chung: 80,0%")
    refused(verify(write(tmp_path / "p.zip", resign(files, key))),
            "report.docx: tỷ lệ hài lòng in báo cáo là 80,0, các đánh giá trong hồ sơ cho 75,0")


def test_a_report_whose_officers_table_disagrees_fails(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    xml = zipfile.ZipFile(io.BytesIO(files[evidence.REPORT])).read("word/document.xml").decode()
    assert "66,7" in xml
    files = _docx_with(files, "66,7", "96,7")      # the first officer at 66,7 % in the officers' table
    refused(verify(write(tmp_path / "p.zip", resign(files, key))), "report.docx: tỷ lệ hài lòng của",
            "in báo cáo là 96,7, các đánh giá trong hồ sơ cho 66,7")


def test_a_csv_row_removed_and_signed_again_fails(made, tmp_path):
    pack, key, _public = made
    files = members(pack)
    lines = files[evidence.RATINGS_CSV].split(b"\r\n")
    files[evidence.RATINGS_CSV] = b"\r\n".join(lines[:3] + lines[4:])
    refused(verify(write(tmp_path / "p.zip", resign(files, key))), "ratings.csv: 9 đánh giá, ratings.jsonl có 10")


# --- not a pack -----------------------------------------------------------------------------

def test_not_a_zip_and_no_file_are_said_plainly(tmp_path):
    text = tmp_path / "hoso.zip"
    text.write_text("không phải zip")
    refused(verify(text), "không phải hồ sơ kiểm chứng")
    refused(verify(tmp_path / "khong-co.zip"), "khong-co.zip: không có tệp này")
    other = write(tmp_path / "other.zip", {"a.txt": b"x"})
    refused(verify(other), "manifest.json: thiếu trong hồ sơ")


def test_the_verifier_never_imports_the_server():
    """It runs on an inspector's laptop: stdlib, cryptography, click and sync's own client modules."""
    tree = ast.parse((ROOT / "sync" / "evidence.py").read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not [n for n in names if n.startswith("sync.server") or n.split(".")[0] in ("sqlalchemy", "fastapi")]
    assert not re.search(r"import_module|__import__", (ROOT / "sync" / "evidence.py").read_text(encoding="utf-8"))


# --- the public log's checkpoint (issue 15) -----------------------------------------------------

def test_the_pack_carries_the_periods_last_checkpoint_of_the_public_log(made, tmp_path):
    from sync import tlog
    pack, key, _public = made
    files = members(pack)
    doc = json.loads(files[evidence.LOG_CHECKPOINT])
    cp = tlog.open_checkpoint(doc["note"], tlog.parse_verifier_key(doc["key"]))
    assert cp.size == doc["tree_size"] == 12          # the hand-checked ratings, all signed in the quarter
    assert doc["signed_at"] < "2027-01-01"
    # a checkpoint re-signed by someone else's log key (the manifest signed again): named
    other = Ed25519PrivateKey.generate()
    name = doc["key"].split("+", 1)[0]
    body = doc["note"].rpartition("\n\n")[0] + "\n"
    forged_note = tlog.sign_note(body, name, other)
    forged = {**doc, "note": forged_note}
    files[evidence.LOG_CHECKPOINT] = json.dumps(forged).encode()
    out = refused(verify(write(tmp_path / "log.zip", resign(files, key))))
    assert "log_checkpoint.json: bản chốt của sổ công khai không đúng" in out
    # the size the member states is not the note's
    files[evidence.LOG_CHECKPOINT] = json.dumps({**doc, "tree_size": 13}).encode()
    refused(verify(write(tmp_path / "log2.zip", resign(files, key))), "log_checkpoint.json", "13")
