# The README's two commands: `make demo` and `make test`. Both set up what
# they need: Debian packages when missing (as root, or with sudo), a .venv,
# compiled translations.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEB_PACKAGES := xvfb xauth libgl1 libgl1-mesa-dri libegl1 libgles2 libmtdev1 xclip \
	fonts-dejavu-core chromium poppler-utils libxtst6 postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-install setup system-packages translations clean bench

demo: setup
	@if [ -z "$$DISPLAY" ]; then \
		echo "No screen (DISPLAY unset): running the kiosk on a virtual screen (Xvfb)."; \
		xvfb-run -a -s "-screen 0 2304x800x24 +extension GLX" $(VENV)/bin/hailong demo; \
	else $(VENV)/bin/hailong demo; fi

test: setup
	$(PY) -m pytest -ra tests --ignore=tests/deploy

# deploy/install.sh for real: the README's install sections followed in clean Debian bookworm roots
# (debootstrap, chroot; as root). Slow (pip installs in two roots; the first run builds the root,
# cached in /var/tmp/hailong-install-test/), so not part of `make test`.
test-install: setup
	@[ "$$(id -u)" = 0 ] || { echo "make test-install needs root (debootstrap, chroot, mount): sudo make test-install"; exit 1; }
	@command -v debootstrap >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
	HAILONG_TEST_INSTALL=1 $(PY) -m pytest -ra -s tests/deploy

bench: setup
	$(PY) benchmarks/run_all.py

setup: system-packages $(VENV)/.installed translations

system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

$(VENV)/.installed: setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -U pip wheel
	$(PIP) install -q -e '.[kiosk,server,test]'
	touch $@

translations: $(VENV)/.installed
	$(PY) -m kiosk.i18n compile

clean:
	rm -rf $(VENV) test-artifacts demo-data *.egg-info
