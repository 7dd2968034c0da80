"""`hailong update`: a new version in place, with its database backed up and migrated, rolled back when it
does not start.

The installed layout (deploy/install.sh) is a venv at ``PREFIX/.venv`` that the systemd units run. An update
never changes that venv in place: the new version is prepared as a release of its own beside it, so that
the running kiosk or server keeps working while it is built, and the old one is still there to go back to.

    PREFIX/releases/<stamp>-<version>/   one venv per version
    PREFIX/.venv -> releases/…            what the units run (a symlink, switched atomically)
    PREFIX/updates/<stamp>/              this update's backup and log

Steps (each one said on the terminal, the first failure stops and undoes what was done):

1. **prepare**: copy the current release to a new one and ``pip install --upgrade SOURCE`` into it (a
   wheel, a source folder or a requirement; only what changed is fetched); its ``hailong --version``
   must answer. The running version is untouched; a failure here ends the update, nothing else changed.
2. **try the migration on a copy**: the database backed up by the current version (checked: integrity,
   every chain), then the new version migrates that copy and verifies it. A migration that fails is
   found before anything stops.
3. **stop** the units (``systemctl stop``), **back up** again with the current version (the copy the
   rollback restores: taken with nothing running, so it holds every rating), **migrate** with the new one.
4. **switch** ``PREFIX/.venv`` to the new release, **start** the units and wait until they stay up (a
   kiosk unit of ``Type=notify`` is up when the app said READY; the server when ``/healthz`` says ok).
5. When it does not start: **roll back**: stop, restore the backup with the old version (refused, and
   said, when ratings arrived since: those are never thrown away), switch back, start the old version.

The first update of a machine installed with a plain venv adopts it as the first release.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import click

from sync.cli_i18n import _

ROLES = ("kiosk", "server")
# the units each role's machine runs (deploy/systemd); those enabled on the machine are stopped and started
UNITS = {"kiosk": ("hailong-kiosk.service", "hailong-sync.service"), "server": ("hailong-server.service",)}


class UpdateError(Exception):
    """An update that stopped; ``rolled_back`` says whether the old version runs again."""

    def __init__(self, message: str, rolled_back: bool = False):
        super().__init__(message)
        self.rolled_back = rolled_back


@dataclass
class Layout:
    """Where the releases of an installation live."""

    prefix: Path

    @property
    def current(self) -> Path:
        return self.prefix / ".venv"

    @property
    def releases(self) -> Path:
        return self.prefix / "releases"

    def current_release(self) -> Path:
        """The release the units run; a plain venv (deploy/install.sh's) is adopted as the first release."""
        link = self.current
        if link.is_symlink():
            return (link.parent / os.readlink(link)).resolve()
        if not (link / "bin" / "python").exists():
            raise UpdateError(_("{path}: chưa cài hailong ở đây (không có bin/python); xem deploy/install.sh", path=link))
        self.releases.mkdir(parents=True, exist_ok=True)
        first = self.releases / f"{_stamp()}-{release_version(link)}"
        # the scripts' #! lines name PREFIX/.venv/bin/python, which the symlink keeps valid
        link.rename(first)
        switch(link, first)
        return first


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def switch(link: Path, release: Path) -> None:
    """``link`` -> ``release``, atomically (a new symlink renamed over the old one)."""
    tmp = link.with_name(link.name + ".switch")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(release, link.parent))
    os.replace(tmp, link)


def hailong(release: Path, *args: str, timeout: float = 600, owner: Path | None = None) -> subprocess.CompletedProcess:
    """``hailong ARGS`` of one release (its own python), in the caller's language.

    Run by root (systemctl needs it), a command that writes the database runs as the user who owns
    ``owner`` (the kiosk's config.toml, town.db: the ``hailong`` user), so that kiosk.db, its -wal and
    a restored file stay the service's own and it can still write them.
    """
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    as_owner = None
    if owner is not None and os.geteuid() == 0 and owner.exists():
        st = owner.stat()
        if st.st_uid != 0:
            def as_owner(uid=st.st_uid, gid=st.st_gid):
                os.setgroups([gid])
                os.setgid(gid)
                os.setuid(uid)
    return subprocess.run([str(release / "bin" / "python"), "-m", "hailong", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, preexec_fn=as_owner)   # noqa: PLW1509


def release_version(release: Path) -> str:
    done = hailong(release, "--version", timeout=120)
    if done.returncode != 0:
        raise UpdateError(_("{path}: `hailong --version` không chạy được: {why}", path=release, why=_tail(done)))
    return done.stdout.strip().rsplit(" ", 1)[-1]


def _tail(done: subprocess.CompletedProcess, lines: int = 8) -> str:
    text = (done.stderr or "") + (done.stdout or "")
    return "\n".join(text.strip().splitlines()[-lines:]) or _("mã thoát {code}", code=done.returncode)


def prepare(layout: Layout, source: str, say: Callable[[str], None]) -> Path:
    """A new release: a copy of the current one with ``source`` installed over it."""
    current = layout.current_release()
    new = layout.releases / f"{_stamp()}-new"
    if new.exists():
        shutil.rmtree(new)
    say(_("Chuẩn bị bản mới từ {old} trong {path}", old=current.name, path=new))
    shutil.copytree(current, new, symlinks=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run([str(new / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade",
                           "--upgrade-strategy", "only-if-needed", "--no-build-isolation", source],
                          capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        shutil.rmtree(new, ignore_errors=True)
        raise UpdateError(_("pip không cài được {source}: {why}", source=source, why=_tail(done)))
    # the .mo catalogues compiled in the release, as deploy/install.sh does (the service cannot write there)
    done = subprocess.run([str(new / "bin" / "python"), "-m", "kiosk.i18n", "compile"], capture_output=True,
                          text=True, env=env, timeout=600)
    try:
        if done.returncode != 0:
            raise UpdateError(_("không biên dịch được các bản dịch (.mo) của bản mới: {why}", why=_tail(done)))
        version = release_version(new)
    except UpdateError:
        shutil.rmtree(new, ignore_errors=True)
        raise
    named = new.with_name(new.name[:-len("new")] + version)
    new.rename(named)
    return named


@dataclass
class Role:
    """What one machine kind backs up, migrates and checks, through the releases' own commands."""

    name: str
    config: str | None = None      # kiosk: config.toml
    db: str | None = None          # server: town.db or a PostgreSQL URL

    def owner(self) -> Path | None:
        """The file whose owner writes the database (hailong()'s ``owner``)."""
        if self.name == "kiosk":
            return Path(self.config)
        return Path(self.db) if self.db and "://" not in self.db else None

    def args(self) -> list[str]:
        return ["kiosk", "--config", self.config] if self.name == "kiosk" else ["admin", "--db", self.db]

    def backup(self, release: Path, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        before = set(folder.iterdir())
        _give(folder, self.owner())
        done = hailong(release, *self.args(), "backup", "--dir", str(folder), "--keep", "10", owner=self.owner())
        made = [p for p in set(folder.iterdir()) - before if p.is_file() and not p.name.endswith(".json")]
        if done.returncode != 0 or len(made) != 1:
            raise UpdateError(_("sao lưu không thành công: {why}", why=_tail(done)))
        return made[0]

    def migrate(self, release: Path, db_file: Path | None = None) -> None:
        """The new version's migration (and, on a kiosk, its chain check) of the database, or of the copy
        ``db_file`` (a backup: the trial run)."""
        if self.name == "kiosk":
            config = self.config if db_file is None else str(_config_for(Path(self.config), db_file))
            steps = [["kiosk", "--config", config, "init"], ["kiosk", "--config", config, "verify"]]
        else:
            steps = [["admin", "--db", str(db_file) if db_file is not None else self.db, "migrate"]]
        for step in steps:
            done = hailong(release, *step, owner=self.owner())
            if done.returncode != 0:
                raise UpdateError(_("`hailong {args}` của bản mới không thành công: {why}", args=" ".join(step), why=_tail(done)))

    def can_try(self, backup: Path) -> bool:
        """A copy the new version can migrate on its own: a SQLite file (a pg_dump is not a database)."""
        return backup.suffix == ".db"

    def restore(self, release: Path, backup: Path) -> None:
        done = hailong(release, *self.args(), "restore", str(backup), owner=self.owner())
        if done.returncode != 0:
            raise UpdateError(_("khôi phục {path} bị từ chối: {why}", path=backup, why=_tail(done)))


@dataclass
class Services:
    """Stop, start and check what runs the role: systemd units, or the commands given instead."""

    units: tuple[str, ...] = ()
    start_command: str | None = None    # instead of systemctl ({venv}: the release); for a machine without systemd
    stop_command: str | None = None
    health_url: str | None = None       # the server's /healthz
    settle: float = 20.0                # seconds a unit must stay up after it started
    timeout: float = 90.0
    prefix: Path = field(default_factory=Path)

    def _run(self, cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd.replace("{venv}", str(self.prefix / ".venv")), shell=True, capture_output=True,
                              text=True, timeout=self.timeout)

    def stop(self) -> None:
        if self.stop_command:
            self._run(self.stop_command)
        for unit in self.units:
            subprocess.run(["systemctl", "stop", unit], capture_output=True, timeout=self.timeout)

    def start(self) -> str | None:
        """Start; None when everything came up and stayed up, else what went wrong."""
        if self.start_command:
            done = self._run(self.start_command)
            if done.returncode != 0:
                return _("lệnh khởi động không thành công: {why}", why=_tail(done))
        for unit in self.units:
            done = subprocess.run(["systemctl", "start", unit], capture_output=True, text=True, timeout=self.timeout)
            if done.returncode != 0:
                return _("{unit} không khởi động được: {why}", unit=unit, why=_tail(done))
        return self._came_up()

    def _restarts(self) -> dict[str, str]:
        out = {}
        for unit in self.units:
            done = subprocess.run(["systemctl", "show", "-p", "ActiveState", "-p", "NRestarts", unit],
                                  capture_output=True, text=True, timeout=30)
            out[unit] = done.stdout
        return out

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=5) as resp:     # noqa: S310 - the admin's URL
                return resp.status == 200 and json.loads(resp.read()).get("ok") is True
        except (OSError, ValueError):
            return False

    def _came_up(self) -> str | None:
        deadline = time.monotonic() + self.timeout
        if self.health_url:
            while not self._healthy():
                if time.monotonic() > deadline:
                    return _("{url} không báo ok trong {seconds} giây", url=self.health_url, seconds=f"{self.timeout:g}")
                time.sleep(0.5)
        if self.units:   # up, and not restarted by systemd while it settles (a crash loop, a watchdog)
            first = self._restarts()
            time.sleep(self.settle)
            now = self._restarts()
            bad = [u for u in self.units if now[u] != first[u] or "ActiveState=active" not in now[u]]
            if bad:
                return _("{units} không chạy được lâu: {state}", units=", ".join(bad), state=" ".join(now[bad[0]].split()))
        return None


def enabled_units(role: str) -> tuple[str, ...]:
    """The role's units that are enabled here (none without systemd)."""
    if shutil.which("systemctl") is None:
        return ()
    found = []
    for unit in UNITS[role]:
        done = subprocess.run(["systemctl", "is-enabled", unit], capture_output=True, text=True, timeout=30)
        if done.stdout.strip() in ("enabled", "enabled-runtime"):
            found.append(unit)
    return tuple(found)


def update(layout: Layout, source: str, role: Role, services: Services,
           say: Callable[[str], None] = print) -> dict:
    """The whole update (module docstring); {"from", "to", "backup"}; UpdateError when it stopped."""
    old = layout.current_release()
    old_version = release_version(old)
    new = prepare(layout, source, say)
    new_version = release_version(new)
    work = layout.prefix / "updates" / _stamp()
    say(_("{old} -> {new}; bản sao lưu ở {path}", old=old_version, new=new_version, path=work))

    trial = role.backup(old, work / "trial")           # 2. the migration tried on a copy, nothing stopped
    if role.can_try(trial):
        try:
            role.migrate(new, trial)
        except UpdateError as exc:
            shutil.rmtree(new, ignore_errors=True)
            raise UpdateError(_("bản mới không nâng cấp được bản sao của cơ sở dữ liệu; chưa có gì thay đổi: {why}", why=exc)) \
                from None
        say(_("Bản mới nâng cấp được một bản sao của cơ sở dữ liệu"))
    shutil.rmtree(work / "trial", ignore_errors=True)

    services.stop()                                    # 3.
    say(_("Đã dừng"))
    try:
        backup = role.backup(old, work)
        say(_("Đã sao lưu: {path}", path=backup))
        role.migrate(new)
        say(_("Đã nâng cấp cơ sở dữ liệu"))
    except UpdateError as exc:
        problem = services.start()
        raise UpdateError((_("{why}; bản cũ {old} đã được chạy lại", why=exc, old=old_version) if problem is None else
                           _("{why}; bản cũ {old} được chạy lại nhưng: {problem}", why=exc, old=old_version,
                             problem=problem)), rolled_back=problem is None) from None

    switch(layout.current, new)                        # 4.
    say(_("Đã chuyển sang {release}; đang khởi động", release=new.name))
    problem = services.start()
    if problem is None:
        say(_("Bản {new} đang chạy", new=new_version))
        return {"from": old_version, "to": new_version, "backup": str(backup)}

    say(_("Bản {new} không khởi động được: {problem}; quay lại bản cũ", new=new_version, problem=problem))       # 5.
    services.stop()
    try:
        role.restore(old, backup)
    except UpdateError as exc:
        raise UpdateError(_("Bản {new} không khởi động được ({problem}) và không đặt lại được cơ sở dữ liệu: {why}; bản mới "
                            "được giữ nguyên, đã dừng", new=new_version, problem=problem, why=exc)) from None
    switch(layout.current, old)
    again = services.start()
    if again is not None:
        raise UpdateError(_("Bản {new} không khởi động được ({problem}); đã quay lại bản {old}, nhưng bản này cũng không "
                            "khởi động được: {again}", new=new_version, problem=problem, old=old_version, again=again))
    raise UpdateError(_("Bản {new} không khởi động được ({problem}); đã quay lại bản {old} và cơ sở dữ liệu của nó "
                        "từ {path}", new=new_version, problem=problem, old=old_version, path=backup), rolled_back=True)


def _give(path: Path, owner: Path | None) -> None:
    """``path`` (this update's backup folder, the trial's files) to the user who owns ``owner``, when run
    by root: the commands hailong() runs as that user write there."""
    if owner is None or os.geteuid() != 0 or not owner.exists() or owner.stat().st_uid == 0:
        return
    st = owner.stat()
    for each in (path, path.parent) if path.name == "trial" else (path,):
        os.chown(each, st.st_uid, st.st_gid)


def _config_for(config: Path, db_file: Path) -> Path:
    """A copy of the kiosk's config.toml beside ``db_file`` naming it as kiosk.db (0600: it holds the key)."""
    import tomlkit
    doc = tomlkit.parse(config.read_text("utf-8"))
    doc.setdefault("kiosk", tomlkit.table())["db"] = str(db_file.resolve())
    trial = db_file.with_name("config.toml")
    fd = os.open(trial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(tomlkit.dumps(doc))
    _give(trial, config)
    return trial


# -- `hailong update` -------------------------------------------------------------------------------------

@click.command(help=_("Cập nhật hailong đã cài (deploy/install.sh): chuẩn bị bản mới bên cạnh bản đang chạy, "
                      "thử nâng cấp trên một bản sao của cơ sở dữ liệu, dừng, sao lưu, nâng cấp, chuyển sang bản "
                      "mới và khởi động; bản mới không chạy được thì quay lại bản cũ và cơ sở dữ liệu của nó."))
@click.argument("source")
@click.option("--role", type=click.Choice(ROLES), required=True, help=_("máy này là ki-ốt hay máy chủ"))
@click.option("--prefix", default="/opt/hailong", show_default=True, type=click.Path(file_okay=False),
              help=_("nơi cài (PREFIX/.venv là bản đang chạy)"))
@click.option("--config", "config_path", default="/etc/hailong/config.toml", show_default=True,
              help=_("config.toml của ki-ốt (--role kiosk)"))
@click.option("--db", default=None, help=_("town.db hoặc URL PostgreSQL của máy chủ (--role server)"))
@click.option("--health-url", default=None,
              help=_("địa chỉ /healthz phải báo ok sau khi khởi động [mặc định với --role server: "
                     "http://127.0.0.1:8080/healthz]"))
@click.option("--start-command", default=None,
              help=_("lệnh khởi động thay cho systemctl ({venv}: bản đang dùng), cho máy không có systemd"))
@click.option("--stop-command", default=None, help=_("lệnh dừng thay cho systemctl"))
@click.option("--settle", default=20.0, show_default=True, type=click.FloatRange(0, 3600),
              help=_("số giây các dịch vụ phải chạy liên tục sau khi khởi động"))
@click.option("--timeout", default=90.0, show_default=True, type=click.FloatRange(1, 3600),
              help=_("số giây chờ một bước khởi động hoặc dừng"))
def update_command(source, role, prefix, config_path, db, health_url, start_command, stop_command, settle, timeout):
    """SOURCE: a wheel, a source folder or a requirement (hailong==0.7.0)."""
    if role == "server" and not db:
        raise click.UsageError(_("--role server cần --db (town.db hoặc URL PostgreSQL)"))
    if role == "kiosk" and not Path(config_path).is_file():
        raise click.UsageError(_("không có {path} (--config)", path=config_path))
    layout = Layout(Path(prefix).absolute())
    units = () if start_command else enabled_units(role)
    if role == "server" and health_url is None:
        health_url = "http://127.0.0.1:8080/healthz"
    services = Services(units=units, start_command=start_command, stop_command=stop_command,
                        health_url=health_url, settle=settle, timeout=timeout, prefix=layout.prefix)
    try:
        done = update(layout, source, Role(role, config=str(Path(config_path).absolute()), db=db), services,
                      say=lambda line: click.echo(line))
    except UpdateError as exc:
        click.echo(_("Cập nhật KHÔNG thành công: {why}", why=exc), err=True)
        sys.exit(3 if exc.rolled_back else 1)
    click.echo(_("Đã cập nhật {old} -> {new}; bản sao lưu trước khi nâng cấp: {path}",
                 old=done["from"], new=done["to"], path=done["backup"]))
