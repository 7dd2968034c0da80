"""Each broken config gets one clear message naming the key; the CLI prints it without a traceback."""
import subprocess
import sys

import pytest
from helpers import ROOT

from kiosk.config import ConfigError, load

GOOD = """
[kiosk]
id = "DT-MC-01"
unit_code = "13321"
desk_id = "quay-1"
"""


def write(tmp_path, text):
    p = tmp_path / "config.toml"
    p.write_text(text, "utf-8")
    return p


def test_shipped_config_loads_with_every_key_commented():
    cfg = load(ROOT / "config.toml")
    assert cfg.kiosk["id"] == "DT-MC-01" and cfg.survey["scale"] == 3
    for line in (ROOT / "config.toml").read_text("utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"uncommented key: {line}"


def test_minimal_config_gets_defaults(tmp_path):
    cfg = load(write(tmp_path, GOOD))
    assert cfg.db_path == tmp_path / "kiosk.db"
    assert cfg.ui["idle_timeout"] == 45 and cfg.server["batch_size"] == 500


@pytest.mark.parametrize("extra,message", [
    ("", None),
    ("[ui]\nidle_timeout = \"soon\"\n", "[ui] idle_timeout: must be a number"),
    ("[ui]\nidle_timeout = -1\n", "[ui] idle_timeout: must be greater than 0"),
    ("[ui]\nlanguage = \"fr\"\n", "[ui] language: must be one of vi, en"),
    ("[ui]\nfullscreen = 1\n", "[ui] fullscreen: must be true or false"),
    ("[ui]\nstaff_pin = \"12\"\n", "[ui] staff_pin: must be 4 to 8 digits"),
    ("[survey]\nscale = 7\n", "[survey] scale: must be one of 3, 4, 5"),
    ("[survey]\nreasons = [\"Thái độ\"]\n", "[survey] reasons: each reason must be a code"),
    ("[server]\nurl = \"ftp://x\"\n", "[server] url: must start with http"),
    ("[server]\nkey = \"abc\"\n", "[server] key: must be 64 hexadecimal digits"),
    ("[server]\nbatch_size = 0\n", "[server] batch_size: must be between 1 and 5000"),
    ("[server]\ntokn = \"x\"\n", "[server] tokn: unknown key"),
    ("[printr]\nport = \"x\"\n", "[printr]: unknown section"),
    ("[receipt]\npaper_mm = 70\n", "[receipt] paper_mm: must be one of 58, 80"),
])
def test_bad_values_name_the_key(tmp_path, extra, message):
    path = write(tmp_path, GOOD + extra)
    if message is None:
        load(path)
        return
    with pytest.raises(ConfigError) as err:
        load(path)
    assert message in str(err.value)


def test_missing_required_key(tmp_path):
    with pytest.raises(ConfigError, match=r"\[kiosk\] desk_id: missing"):
        load(write(tmp_path, GOOD.replace('desk_id = "quay-1"', "")))


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[kiosk\nid="))
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml")


def test_cli_prints_the_message_not_a_traceback(tmp_path):
    path = write(tmp_path, GOOD + "[ui]\nidle_timeout = \"soon\"\n")
    proc = subprocess.run([sys.executable, "-m", "hailong", "kiosk", "init", "--config", str(path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "config error: [ui] idle_timeout: must be a number" in proc.stderr
    assert "Traceback" not in proc.stderr


SECRET = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b"    # 63 hex digits: one short


@pytest.mark.parametrize("extra,value,message", [
    (f"[server]\nkey = \"{SECRET}\"\n", SECRET, "[server] key: must be 64 hexadecimal digits"),
    (f"[receipt]\nkey = \"{SECRET}zz\"\n", SECRET, "[receipt] key: must be 64 hexadecimal digits"),
    ("[server]\ntoken = 123456789012345\n", "123456789012345", "[server] token: must be a string"),
    ("[ui]\nstaff_pin = \"98\"\n", "'98'", "[ui] staff_pin: must be 4 to 8 digits"),
])
def test_errors_about_secrets_never_echo_the_value(tmp_path, extra, value, message):
    if message is None:
        return
    path = write(tmp_path, GOOD + extra)
    with pytest.raises(ConfigError) as err:
        load(path)
    text = str(err.value)
    assert message in text and "not shown" in text, text
    assert value not in text and value[:12] not in text, text


def test_kiosk_cli_config_error_does_not_print_the_key(tmp_path):
    path = write(tmp_path, GOOD + f"[server]\nkey = \"{SECRET}\"\n")
    out = subprocess.run([sys.executable, "-m", "hailong.cli", "kiosk", "verify", "--config", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode != 0 and "[server] key" in out.stdout + out.stderr
    assert SECRET not in out.stdout + out.stderr and SECRET[:12] not in out.stdout + out.stderr
