#!/bin/sh
# deploy/install.sh: install hailong on Debian 12 / Raspberry Pi OS (bookworm), as root.
#
#   deploy/install.sh --kiosk|--server [--source DIR] [--prefix /opt/hailong]
#
# One role per machine: --kiosk (the touchscreen app at boot in cage, its nightly backup) or
# --server (the town server, its nightly backup). Both on one machine are refused: they would
# share hailong-backup.timer and /var/lib/hailong. `--role kiosk|server` says the same.
#
# What it does (README: "Installing a kiosk", "Installing a town server"):
#   - the Debian packages the role needs, only those missing (apt-get);
#   - the `hailong` system user (home /var/lib/hailong, no login shell); on a kiosk also in the
#     groups dialout (printer, scanner), input (touchscreen), render and video (the GPU);
#   - a copy of the source tree in PREFIX/src (root's: the units, the docs and this script are
#     read from there) and a venv in PREFIX/.venv holding hailong installed from it with the
#     role's extra ([kiosk] or [server]): a real install, not -e, so code, fonts, translations,
#     survey templates and page templates all live in the venv; the translations compiled there;
#   - /etc/hailong/ (0700, hailong's): config.toml (kiosk) or server.env (server), 0600, written
#     only when missing: an existing one is never overwritten, only its owner and mode are set;
#   - /var/lib/hailong (data: kiosk.db or town.db, 0700) and /var/backups/hailong (0700);
#   - the systemd units of the role, the backup timer and a journald drop-in, enabled.
#
# pip needs the network: PyPI, or the index that pip.conf or PIP_INDEX_URL names; pip's own
# settings from the environment (PIP_CERT for a proxy's CA, PIP_CACHE_DIR…) are honoured.
#
# Idempotent: a second run with the same source changes nothing (files are replaced only when
# their content differs; pip runs only when the source changed). An update is a run with a newer
# source: the running services are restarted on it (systemctl try-restart).
set -eu
umask 022

ROLE=
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
deploy/install.sh --kiosk|--server [--source DIR] [--prefix /opt/hailong]
  --kiosk   a kiosk: the touchscreen app at boot in cage on tty1, its nightly backup
  --server  a town server: hailong server, its nightly backup
  --role R  the same as --kiosk (R=kiosk) or --server (R=server)
  --source  the hailong source tree to install (default: the tree holding this script)
  --prefix  where the source copy and the venv go (default: /opt/hailong)
One role per machine.
EOF
}

set_role() {
    if [ -n "$ROLE" ] && [ "$ROLE" != "$1" ]; then
        die "mỗi máy một vai trò: --kiosk hoặc --server, không cả hai" \
            "one role per machine: --kiosk or --server, not both"
    fi
    ROLE=$1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --kiosk) set_role kiosk; shift ;;
        --server) set_role server; shift ;;
        --role) [ $# -ge 2 ] || die "--role cần một giá trị" "--role needs a value"; set_role "$2"; shift 2 ;;
        --role=*) set_role "${1#*=}"; shift ;;
        --source) [ $# -ge 2 ] || die "--source cần một thư mục" "--source needs a folder"; SOURCE=$2; shift 2 ;;
        --source=*) SOURCE=${1#*=}; shift ;;
        --prefix) [ $# -ge 2 ] || die "--prefix cần một thư mục" "--prefix needs a folder"; PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "không hiểu tùy chọn '$1'" "unknown option '$1'" ;;
    esac
done

[ -n "$ROLE" ] || { usage >&2; die "hãy chọn --kiosk hoặc --server" "choose --kiosk or --server"; }
case "$ROLE" in kiosk|server) ;; *) die "vai trò phải là kiosk hoặc server (nhận được '$ROLE')" \
                                        "the role must be kiosk or server (got '$ROLE')" ;; esac
case "$PREFIX" in /*) ;; *) die "--prefix phải là đường dẫn tuyệt đối" "--prefix must be an absolute path" ;; esac
[ "$(id -u)" = 0 ] || die "hãy chạy với quyền root (sudo $0 …)" "run as root (sudo $0 …)"
[ -f "$SOURCE/setup.py" ] && [ -d "$SOURCE/deploy/systemd/$ROLE" ] || \
    die "$SOURCE không phải mã nguồn hailong (thiếu setup.py hoặc deploy/systemd/$ROLE)" \
        "$SOURCE is not a hailong source tree (no setup.py or deploy/systemd/$ROLE)"
SOURCE=$(cd "$SOURCE" && pwd)
VENV=$PREFIX/.venv
SRC=$PREFIX/src
if [ -f "$PREFIX/.installed" ] && ! grep -q " role=$ROLE\$" "$PREFIX/.installed"; then
    other=$(sed 's/.* role=//' "$PREFIX/.installed")
    die "máy này đã được cài với vai trò $other: mỗi máy một vai trò" \
        "this machine was installed as a $other: one role per machine"
fi

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
    if [ -d "$SRC" ]; then mv "$SRC" "$SRC.old"; fi
    mv "$STAGE" "$SRC"
    chmod 0755 "$SRC"
    if [ ! -x "$VENV/bin/python" ]; then
        say "tạo môi trường ảo $VENV" "creating the virtual environment $VENV"
        python3 -m venv "$VENV"
    fi
    say "cài hailong[$ROLE] vào $VENV (pip; cần mạng)" "installing hailong[$ROLE] into $VENV (pip; needs the network)"
    # from / : nothing of the current folder (a checkout) may shadow the installed package
    cd /
    # the same version again is still a new build: the old one goes first
    "$VENV/bin/pip" uninstall --quiet --yes hailong >/dev/null 2>&1 || true
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --use-pep517 "$SRC[$ROLE]"
    # the in-tree build leaves build/ and *.egg-info in the copy; the copy stays pure source
    rm -rf "$SRC/build" "$SRC"/*.egg-info
    # the .mo catalogues, compiled into the venv's assets (the service cannot write there itself)
    "$VENV/bin/python" -m kiosk.i18n compile >/dev/null
    rm -rf "$SRC.old"
    printf '%s\n' "$stamp" > "$PREFIX/.installed"
    CHANGED=1
fi
rm -rf "$STAGE"
cd /
"$VENV/bin/hailong" --help >/dev/null || die "hailong không chạy được từ $VENV" "hailong does not run from $VENV"
where=$("$VENV/bin/python" -c 'import assets; print(assets.ASSETS)')
case "$where" in "$VENV"/*) ;; *) die "hailong trong $VENV đọc tài nguyên từ $where, không phải từ venv" \
                                      "hailong in $VENV reads its assets from $where, not from the venv" ;; esac
for f in fonts/NotoSans-Regular.ttf surveys/hl3.json locale/en/LC_MESSAGES/hailong.mo \
         locale/en/LC_MESSAGES/hailong_cli.mo locale/en/LC_MESSAGES/hailong_server.mo; do
    [ -f "$where/$f" ] || die "thiếu $where/$f sau khi cài" "$where/$f is missing after the install"
done

# --- files: put one in place only when its content differs ----------------------------------
# put MODE SOURCE DEST: the units are written for /opt/hailong; another --prefix is put in their place.
UNITS_CHANGED=0
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

# --- configuration (never overwritten) --------------------------------------------------------
# Written under a temporary name, 0600 and hailong's before it gets its name: never readable by others.
if [ "$ROLE" = kiosk ]; then
    CONFIG=$ETC/config.toml
    if [ ! -f "$CONFIG" ]; then
        say "ghi $CONFIG (mẫu: dùng hailong kiosk provision, hoặc sửa [kiosk] id, unit_code, desk_id)" \
            "writing $CONFIG (a template: use hailong kiosk provision, or set [kiosk] id, unit_code, desk_id)"
        # kiosk.db (and the officers' photos beside it) in the data folder: /etc is read-only to the
        # service (ProtectSystem=strict)
        sed -e "s#^db = \"kiosk.db\"#db = \"$DATA/kiosk.db\"#" "$SRC/config.toml" > "$CONFIG.tmp"
        grep -q "^db = \"$DATA/kiosk.db\"" "$CONFIG.tmp" || die "config.toml: không tìm thấy dòng db = \"kiosk.db\"" \
                                                              "config.toml: no line db = \"kiosk.db\" found"
        chmod 0600 "$CONFIG.tmp"
        chown "$USER_NAME:$USER_NAME" "$CONFIG.tmp"
        mv "$CONFIG.tmp" "$CONFIG"
    fi
else
    CONFIG=$ETC/server.env
    if [ ! -f "$CONFIG" ]; then
        say "ghi $CONFIG (các tùy chọn của hailong server)" "writing $CONFIG (the options of hailong server)"
        cat > "$CONFIG.tmp" <<EOF
# hailong-server.service and hailong-backup.service read this file (systemd EnvironmentFile).
# It may hold a password (--smtp smtp://user:password@host:port): keep it 0600, hailong's.
# HAILONG_DB: the town's database. PostgreSQL: postgresql+psycopg://hailong@127.0.0.1:5432/hailong
# with the password in ~hailong/.pgpass (0600), never here (it would show in ps).
HAILONG_DB=$DATA/town.db
# the other options of \`hailong server\`. Behind a reverse proxy (nginx, caddy) keep --host 127.0.0.1;
# --host 0.0.0.0 serves the LAN directly. --public-url, --smtp: README "The town server".
HAILONG_SERVER_ARGS=--host 127.0.0.1 --port 8080
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
    put 0644 "$f" "$SYSTEMD/$(basename "$f")"
done
put 0644 "$SRC/deploy/journald/50-hailong.conf" /etc/systemd/journald.conf.d/50-hailong.conf
if [ "$ROLE" = kiosk ]; then put 0644 "$SRC/deploy/pam.d/hailong-kiosk" /etc/pam.d/hailong-kiosk; fi

if [ "$ROLE" = kiosk ]; then
    ENABLE="hailong-kiosk.service hailong-backup.timer"
else
    ENABLE="hailong-server.service hailong-backup.timer"
fi
# tty1 is the kiosk's screen: its login prompt would be started at boot beside hailong-kiosk.service, which
# Conflicts= with it (systemd would drop one of the two, not always the same)
if [ "$ROLE" = kiosk ] && systemctl is-enabled --quiet getty@tty1.service 2>/dev/null; then
    say "tắt dấu nhắc đăng nhập trên tty1 (getty@tty1): màn hình đó là của ki-ốt" \
        "disabling the login prompt on tty1 (getty@tty1): that screen is the kiosk's"
    systemctl disable --quiet getty@tty1.service
fi
RUNNING=0
[ -d /run/systemd/system ] && RUNNING=1     # systemd is PID 1 (not a chroot, not an image build)
if [ "$RUNNING" = 1 ] && [ "$UNITS_CHANGED" = 1 ]; then systemctl daemon-reload; fi
for u in $ENABLE; do
    if ! systemctl is-enabled --quiet "$u" 2>/dev/null; then
        say "bật $u (chạy khi khởi động)" "enabling $u (started at boot)"
        systemctl enable --quiet "$u"
    fi
done
if [ "$RUNNING" = 1 ] && { [ "$CHANGED" = 1 ] || [ "$UNITS_CHANGED" = 1 ]; }; then
    # an update: the services already running restart on the new code; stopped ones stay stopped
    systemctl try-restart hailong-kiosk.service hailong-sync.service hailong-server.service 2>/dev/null || true
    if [ "$UNITS_CHANGED" = 1 ]; then systemctl restart systemd-journald.service 2>/dev/null || true; fi
fi

if [ "$ROLE" = kiosk ]; then
    say "xong. Tiếp theo: runuser -u $USER_NAME -- $VENV/bin/hailong kiosk provision TỆP --config $CONFIG
    (hoặc sửa $CONFIG rồi: runuser -u $USER_NAME -- $VENV/bin/hailong kiosk init --config $CONFIG), rồi
    systemctl start hailong-kiosk.service   (tự chạy khi khởi động)" \
        "done. Next: runuser -u $USER_NAME -- $VENV/bin/hailong kiosk provision FILE --config $CONFIG
    (or edit $CONFIG, then: runuser -u $USER_NAME -- $VENV/bin/hailong kiosk init --config $CONFIG), then
    systemctl start hailong-kiosk.service   (started at boot from now on)"
else
    say "xong. Tiếp theo: systemctl start hailong-server.service; xem: journalctl -u hailong-server" \
        "done. Next: systemctl start hailong-server.service; see: journalctl -u hailong-server"
fi
