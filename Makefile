# Quietline: `make run` starts a local instance, `make test` runs every test.
# Both install what they need first; nothing is downloaded but registry packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM := /usr/bin/chromium

.PHONY: run test bench fuzz install python-deps web-deps chromium gpg postgresql dev-keys clean

run: install gpg dev-keys
	@echo "Quietline is starting: open http://127.0.0.1:8470/ (Ctrl-C stops it)"
	$(BIN)/quietline serve --host 127.0.0.1 --port 8470

test: install chromium gpg postgresql
	$(BIN)/pytest

# Page weight and load times on an emulated Slow 3G link (CDP), written to docs/BENCHMARKS.md.
bench: install chromium
	$(BIN)/python bench/web_load.py --runs 5 --write docs/BENCHMARKS.md
	$(BIN)/python bench/pow_cost.py --runs 5 --write docs/BENCHMARKS.md
	$(BIN)/python bench/intake.py --write docs/BENCHMARKS.md
	$(BIN)/python bench/status.py --write docs/BENCHMARKS.md
	$(BIN)/python bench/attachments.py --write docs/BENCHMARKS.md
	$(BIN)/python bench/workstation.py --write docs/BENCHMARKS.md
	$(BIN)/python bench/load.py --write docs/BENCHMARKS.md
	$(BIN)/python bench/browser_crypto.py --write docs/BENCHMARKS.md

# The Atheris target for the bundle, envelope, reply and manifest parsers, for FUZZ_SECONDS
# (make test runs it briefly). The corpus grows in var/fuzz/corpus across runs; a crash is
# saved as var/fuzz/crash-* and fails the run. Atheris ships libFuzzer in its wheel.
FUZZ_SECONDS ?= 600
fuzz: python-deps
	mkdir -p var/fuzz/corpus
	$(BIN)/python tests/fuzz/fuzz_parsers.py --write-corpus var/fuzz/corpus
	$(BIN)/python tests/fuzz/fuzz_parsers.py var/fuzz/corpus -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=var/fuzz/

install: python-deps web-deps

# The venv's own pip and setuptools come from the system Python (pip 23.2, setuptools 65.5 on
# 3.11, both with published advisories); replaced first by pinned releases, which the
# dependency audit (tests/deps) checks like everything else installed.
VENV_TOOLS := pip==26.3 setuptools==84.2.1
python-deps: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(VENV_TOOLS)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# Third-party browser code comes only from the npm registry, pinned in package-lock.json,
# and is copied into the ignored client_web/vendor/ (served from our own origin).
web-deps: client_web/vendor/.installed
client_web/vendor/.installed: client_web/package.json client_web/package-lock.json client_web/scripts/vendor.mjs
	cd client_web && npm ci --no-audit --no-fund --loglevel=error
	node client_web/scripts/vendor.mjs
	touch $@

# Debian's Chromium for the real-browser tests; Playwright never downloads a browser here.
chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# GnuPG for the workstation's OpenPGP referral exports (python-gnupg drives the real binary).
gpg:
	@command -v gpg >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg; }

# PostgreSQL 15's server tools for the API tests' second run: each test session starts a
# throwaway cluster of its own with them (tests/api/pgcluster.py); no service is left running.
PG_BIN := /usr/lib/postgresql/15/bin
postgresql:
	@test -x $(PG_BIN)/initdb || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15; }

dev-keys: python-deps
	$(BIN)/quietline keys dev

clean:
	rm -rf $(VENV) client_web/node_modules client_web/vendor var keys/dev
