"""A clean Debian bookworm root for the install test: built once by debootstrap, cached, unpacked per run.

debootstrap takes minutes; unpacking a tar of the finished root takes seconds. The cache lives
under /var/tmp/hailong-install-test/ (kept across reboots and runs), named by a hash of what
went into it (suite, mirror, packages), so changing the package list builds a new one. pip's
cache sits beside it and is bind-mounted into every chroot, so a rerun downloads no wheel twice.

Run ``python tests/deploy/chroot.py`` to build the cache ahead of the test.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("HAILONG_INSTALL_CACHE", "/var/tmp/hailong-install-test"))
SUITE = "bookworm"
MIRROR = os.environ.get("HAILONG_DEBIAN_MIRROR", "http://deb.debian.org/debian")

#: What a fresh Raspberry Pi OS Lite / Debian 12 netinst with Python brings, plus what
#: deploy/install.sh would otherwise install with apt (its KIOSK_DEBS and BASE_DEBS), so the
#: test needs no apt run. install.sh still checks each of them (and would install a missing one).
PACKAGES = [
    "python3", "python3-venv", "systemd", "dbus", "ca-certificates", "passwd", "util-linux",
    "cage", "xwayland", "libgl1", "libegl1", "libgles2", "libgl1-mesa-dri", "libmtdev1",
    "libpam-systemd",
]


def cache_tar() -> Path:
    """The cached root for the current suite, mirror and package list."""
    key = hashlib.sha256(" ".join([SUITE, MIRROR, *PACKAGES]).encode()).hexdigest()[:12]
    return CACHE / f"{SUITE}-{key}.tar"


def build_cache(log=print) -> Path:
    """debootstrap a minbase root with PACKAGES and tar it (once; later calls return the tar)."""
    tar = cache_tar()
    if tar.exists():
        return tar
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (Debian package debootstrap; "
                           "`make test-install` installs it)")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f"{tar.stem}.building"
    shutil.rmtree(work, ignore_errors=True)
    log(f"debootstrap {SUITE} into {work} (once; cached as {tar})")
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                    SUITE, str(work), MIRROR], check=True)
    subprocess.run(["chroot", str(work), "apt-get", "clean"], check=True)
    partial = tar.with_suffix(".tar.part")
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(work), "-cf", str(partial), "."], check=True)
    partial.rename(tar)
    shutil.rmtree(work, ignore_errors=True)
    return tar


def unpack(dest: Path) -> Path:
    """A fresh copy of the cached root in ``dest`` (built first when missing)."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(dest), "-xf", str(build_cache())], check=True)
    # name resolution inside the root: the host's resolver (the root has no network service of its own)
    shutil.copy("/etc/resolv.conf", dest / "etc" / "resolv.conf")
    return dest


#: the device nodes a chroot'd install needs (pip, python, systemd-analyze): made in a tmpfs of the
#: root's own, never the host's /dev bound in, so a leaked mount cannot expose the host's devices
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}


@contextlib.contextmanager
def mounted(root: Path):
    """/proc, /sys (read-only), a private /dev (tmpfs with the DEVICES nodes, /dev/shm) and pip's cache
    mounted in ``root``; all unmounted after, whatever happened (lazily when busy)."""
    pip_cache = CACHE / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    mounts = [(["-t", "proc", "proc"], root / "proc"),
              (["-t", "sysfs", "-o", "ro", "sysfs"], root / "sys"),
              (["-t", "tmpfs", "-o", "mode=0755,size=64m", "tmpfs"], root / "dev"),
              (["--bind", str(pip_cache)], root / "var" / "cache" / "hailong-pip")]
    done: list[Path] = []
    try:
        for args, target in mounts:
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", *args, str(target)], check=True)
            done.append(target)
            if target == root / "dev":
                for name, (major, minor) in DEVICES.items():
                    os.mknod(target / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
                    os.chmod(target / name, 0o666)
                (target / "shm").mkdir(mode=0o1777)
                os.chmod(target / "shm", 0o1777)
                for link, to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                                 ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
                    os.symlink(to, target / link)
        yield root
    finally:
        for target in reversed(done):
            if subprocess.run(["umount", str(target)]).returncode != 0:
                subprocess.run(["umount", "-l", str(target)])


def is_mounted_below(root: Path) -> list[str]:
    """Mount points still under ``root`` (the test's finally checks none is left)."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts") as fh:
        return [line.split()[1] for line in fh if line.split()[1].startswith(prefix)]


if __name__ == "__main__":
    print(build_cache())
    sys.exit(0)
