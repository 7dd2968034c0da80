#!/bin/sh
# deploy/install.sh: install hailong on Debian 12 / Raspberry Pi OS (bookworm), as root.
#
#   sudo deploy/install.sh --role kiosk|server [--source DIR] [--prefix /opt/hailong]
#
# What it does (README: "Install a kiosk", "Install a town server"):
#   - the Debian packages the role needs, only those missing (apt-get);
#   - the `hailong` system user (home /var/lib/hailong, no login shell); on a kiosk also in the
#     groups dialout (printer, scanner), input (touchscreen), render and video (the GPU);
#   - a copy of the source tree in PREFIX/src (root's, read-only to hailong) and a venv in
#     PREFIX/.venv holding hailong installed from it with the role's extra ([kiosk] or [server]);
#     the copy is installed in place (-e) because hailong reads assets/ (fonts, translations,
#     letters, survey templates) beside its code; translations compiled, bytecode compiled;
#   - /etc/hailong/ (0700, hailong's): config.toml (kiosk) or server.env (server), 0600, written
#     only when missing: an existing one is never overwritten, only its owner and mode are set;
#   - /var/lib/hailong (data: kiosk.db or town.db, 0700) and /var/backups/hailong (0700);
#   - the systemd units of the role, the backup timer and a journald drop-in, enabled.
#
# Idempotent: a second run with the same source changes nothing (files are replaced only when
# their content differs; pip runs only when the source changed). An update is a run with a newer
# source: the running services are restarted on it (systemctl try-restart).
set -eu
umask 022

ROLE=kiosk
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/hailong
ETC=/etc/hailong
DATA=/var/lib/hailong
BACKUPS=/var/backups/hailong
SYSTEMD=/etc/systemd/system
USER_NAME=hailong

# Messages: Vietnamese, English when the environment says so (LANGUAGE / LC_ALL / LANG = en…).
case "${LANGUAGE:-${LC_ALL:-${LANG:-vi}}}" in en*) EN=1 ;; *) EN=0 ;; esac
say() { if [ "$EN" = 1 ]; then printf 'hailong install: %s\n' "$2"; else printf 'hailong install: %s\n' "$1"; fi; }
die() { if [ "$EN" = 1 ]; then printf 'hailong install: ERROR: %s\n' "$2" >&2; else printf 'hailong install: LỖI: %s\n' "$1" >&2; fi; exit 1; }

usage() {
    cat <<'EOF'
deploy/install.sh [--role kiosk|server] [--source DIR] [--prefix /opt/hailong]
  --role    kiosk (the touchscreen app at boot in cage, its backup timer) or server (the town server)
  --source  the hailong source tree to install (default: the tree holding this script)
  --prefix  where the source copy and the venv go (default: /opt/hailong)
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --role) [ $# -ge 2 ] || die "--role cần một giá trị" "--role needs a value"; ROLE=$2; shift 2 ;;
        --role=*) ROLE=${1#*=}; shift ;;
        --source) [ $# -ge 2 ] || die "--source cần một thư mục" "--source needs a folder"; SOURCE=$2; shift 2 ;;
        --source=*) SOURCE=${1#*=}; shift ;;
        --prefix) [ $# -ge 2 ] || die "--prefix cần một thư mục" "--prefix needs a folder"; PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "không hiểu tùy chọn '$1'" "unknown option '$1'" ;;
    esac
done

case "$ROLE" in kiosk|server) ;; *) die "--role phải là kiosk hoặc server (nhận được '$ROLE')" \
                                        "--role must be kiosk or server (got '$ROLE')" ;; esac
case "$PREFIX" in /*) ;; *) die "--prefix phải là đường dẫn tuyệt đối" "--prefix must be an absolute path" ;; esac
[ "$(id -u)" = 0 ] || die "hãy chạy với quyền root (sudo $0 …)" "run as root (sudo $0 …)"
[ -f "$SOURCE/setup.py" ] && [ -d "$SOURCE/deploy/systemd/$ROLE" ] || \
    die "$SOURCE không phải mã nguồn hailong (thiếu setup.py hoặc deploy/systemd/$ROLE)" \
        "$SOURCE is not a hailong source tree (no setup.py or deploy/systemd/$ROLE)"
SOURCE=$(cd "$SOURCE" && pwd)
VENV=$PREFIX/.venv
SRC=$PREFIX/src

if [ -r /etc/os-release ]; then
    . /etc/os-release
    [ "${VERSION_CODENAME:-}" = bookworm ] || say "cảnh báo: máy này là ${PRETTY_NAME:-?}, không phải Debian 12 (bookworm); tiếp tục" \
                                               "warning: this machine runs ${PRETTY_NAME:-?}, not Debian 12 (bookworm); going on"
fi

# --- Debian packages --------------------------------------------------------------------------
BASE_DEBS="python3 python3-venv ca-certificates"
# cage: the Wayland kiosk compositor (one full-screen app, no desktop); xwayland for SDL's X11
# path; Mesa for Kivy's OpenGL ES; libmtdev1 for Kivy's mtdev touch provider; libpam-systemd and
# dbus give the kiosk's tty1 a logind session (cage takes the seat through it).
KIOSK_DEBS="cage xwayland libgl1 libegl1 libgles2 libgl1-mesa-dri libmtdev1 libpam-systemd dbus"
DEBS=$BASE_DEBS
[ "$ROLE" = kiosk ] && DEBS="$DEBS $KIOSK_DEBS"
missing=""
for p in $DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "cài các gói Debian:$missing" "installing Debian packages:$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
else
    say "các gói Debian cần thiết đã có" "the Debian packages needed are installed"
fi

# --- user and groups --------------------------------------------------------------------------
if ! getent passwd "$USER_NAME" >/dev/null; then
    say "tạo người dùng hệ thống $USER_NAME" "creating the system user $USER_NAME"
    getent group "$USER_NAME" >/dev/null || groupadd --system "$USER_NAME"
    useradd --system --gid "$USER_NAME" --home-dir "$DATA" --no-create-home \
        --shell /usr/sbin/nologin --comment "hailong" "$USER_NAME"
fi
if [ "$ROLE" = kiosk ]; then
    for g in dialout input render video; do
        getent group "$g" >/dev/null || groupadd --system "$g"
        if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g"; then
            say "thêm $USER_NAME vào nhóm $g" "adding $USER_NAME to the group $g"
            usermod -a -G "$g" "$USER_NAME"
        fi
    done
fi

# --- folders ----------------------------------------------------------------------------------
install -d -m 0755 -o root -g root "$PREFIX"
install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$ETC" "$DATA" "$BACKUPS"

# --- the source copy and the venv ---------------------------------------------------------------
# The copy leaves out what is not source: git, venvs, databases, test output, caches, build products.
STAGE=$(mktemp -d "$PREFIX/.src.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
tar -C "$SOURCE" --exclude=./.git --exclude=./.venv --exclude=./.ci --exclude=./test-artifacts \
    --exclude=./demo-data --exclude='*.db' --exclude='*.db-wal' --exclude='*.db-shm' --exclude='*.mo' \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=.ruff_cache --exclude=.hypothesis \
    --exclude='*.egg-info' --exclude=./build --exclude=./dist --exclude=./tests --exclude=./benchmarks \
    -cf - . | tar -C "$STAGE" --no-same-owner --no-same-permissions -xf -
chmod -R u=rwX,go=rX "$STAGE"
digest=$(cd "$STAGE" && find . -type f -print | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -d' ' -f1)
stamp="source=$digest role=$ROLE"
if [ -x "$VENV/bin/hailong" ] && [ -f "$PREFIX/.installed" ] && [ "$(cat "$PREFIX/.installed")" = "$stamp" ]; then
    say "hailong đã được cài từ đúng mã nguồn này ($VENV): không cài lại" \
        "hailong is already installed from this very source ($VENV): not reinstalled"
    CHANGED=0
else
    say "chép mã nguồn vào $SRC" "copying the source into $SRC"
    rm -rf "$SRC.old"
    [ -d "$SRC" ] && mv "$SRC" "$SRC.old"
    mv "$STAGE" "$SRC"
    chmod 0755 "$SRC"
    if [ ! -x "$VENV/bin/python" ]; then
        say "tạo môi trường ảo $VENV" "creating the virtual environment $VENV"
        python3 -m venv "$VENV"
    fi
    say "cài hailong[$ROLE] vào $VENV (pip; cần mạng)" "installing hailong[$ROLE] into $VENV (pip; needs the network)"
    # the egg-info pip writes beside the code goes in the source copy, which is root's
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -e "$SRC[$ROLE]"
    "$VENV/bin/python" -m kiosk.i18n compile >/dev/null
    "$VENV/bin/python" -m compileall -q "$SRC" >/dev/null
    rm -rf "$SRC.old"
    printf '%s\n' "$stamp" > "$PREFIX/.installed"
    CHANGED=1
fi
rm -rf "$STAGE"
"$VENV/bin/hailong" --help >/dev/null || die "hailong không chạy được từ $VENV" "hailong does not run from $VENV"

# --- files: put one in place only when its content differs ----------------------------------
# put MODE SOURCE DEST: the units are written for /opt/hailong; another --prefix is put in their place.
put() {
    tmp=$(mktemp)
    sed -e "s#/opt/hailong#$PREFIX#g" "$2" > "$tmp"
    if [ -f "$3" ] && cmp -s "$tmp" "$3"; then
        rm -f "$tmp"
        chmod "$1" "$3"
    else
        say "ghi $3" "writing $3"
        install -D -m "$1" -o root -g root "$tmp" "$3"
        rm -f "$tmp"
        UNITS_CHANGED=1
    fi
}
UNITS_CHANGED=0

# --- configuration (never overwritten) --------------------------------------------------------
if [ "$ROLE" = kiosk ]; then
    CONFIG=$ETC/config.toml
    if [ ! -f "$CONFIG" ]; then
        say "ghi $CONFIG (mẫu: hãy sửa [kiosk] id, unit_code, desk_id hoặc dùng hailong kiosk provision)" \
            "writing $CONFIG (a template: set [kiosk] id, unit_code, desk_id, or use hailong kiosk provision)"
        # kiosk.db in the data folder: /etc is read-only to the service (ProtectSystem=strict)
        sed -e "s#^db = \"kiosk.db\" #db = \"$DATA/kiosk.db\"#" "$SRC/config.toml" > "$CONFIG.tmp"
        chmod 0600 "$CONFIG.tmp"
        chown "$USER_NAME:$USER_NAME" "$CONFIG.tmp"
        mv "$CONFIG.tmp" "$CONFIG"
    fi
else
    CONFIG=$ETC/server.env
    if [ ! -f "$CONFIG" ]; then
        say "ghi $CONFIG (các tùy chọn của hailong server)" "writing $CONFIG (the options of hailong server)"
        cat > "$CONFIG.tmp" <<EOF
# hailong-server.service reads this file (systemd EnvironmentFile): the options of \`hailong server\`.
# It may hold a password (--smtp smtp://user:password@host:port, a postgresql:// URL): keep it 0600.
# PostgreSQL: --db postgresql+psycopg://hailong@127.0.0.1:5432/hailong (password in ~hailong/.pgpass).
# Behind a reverse proxy (nginx, caddy) keep --host 127.0.0.1; --host 0.0.0.0 serves the LAN directly.
HAILONG_SERVER_ARGS=--db $DATA/town.db --host 127.0.0.1 --port 8080
EOF
        chmod 0600 "$CONFIG.tmp"
        chown "$USER_NAME:$USER_NAME" "$CONFIG.tmp"
        mv "$CONFIG.tmp" "$CONFIG"
    fi
fi
# an existing config keeps its content; its owner and mode are what the service and secrecy need
chown "$USER_NAME:$USER_NAME" "$CONFIG"
chmod 0600 "$CONFIG"

# --- systemd units, journald, PAM -------------------------------------------------------------
UNITDIR=$SRC/deploy/systemd/$ROLE
for f in "$UNITDIR"/*.service "$UNITDIR"/*.timer; do
    name=$(basename "$f")
    case "$name" in
        hailong-backup.service)
            # written for a checkout in /opt/hailong: here config and data live in /etc and /var/lib
            tmp=$(mktemp)
            sed -e "s#/opt/hailong/config.toml#$ETC/config.toml#g" -e "s#/srv/hailong/town.db#$DATA/town.db#g" \
                -e "s#^WorkingDirectory=.*#WorkingDirectory=$DATA#" "$f" > "$tmp"
            put 0644 "$tmp" "$SYSTEMD/$name"
            rm -f "$tmp" ;;
        *) put 0644 "$f" "$SYSTEMD/$name" ;;
    esac
done
put 0644 "$SRC/deploy/journald/50-hailong.conf" /etc/systemd/journald.conf.d/50-hailong.conf
[ "$ROLE" = kiosk ] && put 0644 "$SRC/deploy/pam.d/hailong-kiosk" /etc/pam.d/hailong-kiosk

if [ "$ROLE" = kiosk ]; then
    ENABLE="hailong-kiosk.service hailong-backup.timer"
else
    ENABLE="hailong-server.service hailong-backup.timer"
fi
RUNNING=0
[ -d /run/systemd/system ] && RUNNING=1     # systemd is PID 1 (not a chroot, not an image build)
[ "$RUNNING" = 1 ] && [ "$UNITS_CHANGED" = 1 ] && systemctl daemon-reload
for u in $ENABLE; do
    if ! systemctl is-enabled --quiet "$u" 2>/dev/null; then
        say "bật $u (chạy khi khởi động)" "enabling $u (started at boot)"
        systemctl enable --quiet "$u"
    fi
done
if [ "$RUNNING" = 1 ] && { [ "$CHANGED" = 1 ] || [ "$UNITS_CHANGED" = 1 ]; }; then
    # an update: the services already running restart on the new code; stopped ones stay stopped
    systemctl try-restart hailong-kiosk.service hailong-sync.service hailong-server.service 2>/dev/null || true
    [ "$UNITS_CHANGED" = 1 ] && systemctl restart systemd-journald.service 2>/dev/null || true
fi

if [ "$ROLE" = kiosk ]; then
    say "xong. Tiếp theo: hailong kiosk provision TỆP --config $CONFIG (hoặc sửa $CONFIG), rồi
    sudo -u $USER_NAME $VENV/bin/hailong kiosk init --config $CONFIG
    sudo systemctl start hailong-kiosk.service   (tự chạy khi khởi động)" \
        "done. Next: hailong kiosk provision FILE --config $CONFIG (or edit $CONFIG), then
    sudo -u $USER_NAME $VENV/bin/hailong kiosk init --config $CONFIG
    sudo systemctl start hailong-kiosk.service   (started at boot from now on)"
else
    say "xong. Tiếp theo: sudo systemctl start hailong-server.service; xem: journalctl -u hailong-server" \
        "done. Next: sudo systemctl start hailong-server.service; see: journalctl -u hailong-server"
fi
