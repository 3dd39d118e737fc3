#!/usr/bin/env bash
# Idempotent set-up: virtualenv, the package (with --test, its test tools), a Chromium,
# Dovecot and Xvfb (with --test also PostgreSQL and Redis, whose throwaway servers the
# ledger's and the queue's tests start; with --bench imapfilter, which the mailbox benchmark
# compares with).
# Safe to run again and again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_bench=0
[ "${1:-}" = "--test" ] && want_test=1
[ "${1:-}" = "--bench" ] && want_bench=1
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

is_root() { [ "$(id -u)" = 0 ]; }
have_apt() { command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Python and the virtualenv
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c "import ensurepip" 2>/dev/null; then
    if is_root && have_apt; then apt_install python3-venv; else
      echo "python3 with venv is needed (install python3-venv)" >&2; exit 1; fi
  fi
  "$PYTHON" -m venv "$VENV"
fi

# 2. The package (again only when pyproject.toml changed)
extras="."
[ $want_test = 1 ] && extras=".[test]"
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)-$want_test"
if [ ! -f "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/python" -m pip install -q -e "$extras"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
  # a test install also satisfies a plain one
  [ $want_test = 1 ] && touch "$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)-0"
fi

# 3. Chromium: Debian's package as root on Debian, else Playwright's own browser
if [ ! -x /usr/bin/chromium ] && [ -z "${RPA_CHROMIUM:-}" ]; then
  if is_root && have_apt; then apt_install chromium || true; fi
  if [ ! -x /usr/bin/chromium ]; then
    "$VENV/bin/python" -m playwright install chromium
  fi
fi

# 4. Dovecot: the demo's throwaway mailbox and the mailbox tests run a private one
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
  if is_root && have_apt; then
    apt_install dovecot-imapd
  else
    echo "note: Dovecot is not installed; the demo skips the mailbox and its tests are skipped" >&2
  fi
fi

# 5. Xvfb: a visible browser (browser.headless: false) on a machine without a display draws
#    on a private one; the test of it is skipped without
if ! command -v Xvfb >/dev/null 2>&1; then
  if is_root && have_apt; then
    apt_install xvfb
  else
    echo "note: Xvfb is not installed (Debian: apt-get install xvfb); browser.headless: false needs it where there is no display" >&2
  fi
fi

# 6. imapfilter, for the benchmark only (bench/mailbox.py runs it beside our triage)
if [ $want_bench = 1 ] && ! command -v imapfilter >/dev/null 2>&1; then
  if is_root && have_apt; then
    apt_install imapfilter
  else
    echo "note: imapfilter is not installed (Debian: apt-get install imapfilter); the mailbox benchmark needs it" >&2
  fi
fi

# 7. PostgreSQL, for the tests: they start throwaway servers of their own (initdb into a
#    temporary folder, a free port), never the system's cluster
have_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
want_servers=$(( want_test || want_bench ))  # the tests and the queue bench start their own
if [ $want_servers = 1 ] && ! have_postgres; then
  if is_root && have_apt; then
    apt_install postgresql
  else
    echo "note: PostgreSQL is not installed (Debian: apt-get install postgresql); the PostgreSQL ledger's tests are skipped" >&2
  fi
fi

# 8. Redis, for the tests: they start throwaway servers of their own (rpa.practice.redis: a
#    temporary folder, a free port, a password), never the system's service, which is left
#    stopped and disabled when the package's install started it (no systemd in a container:
#    nothing to stop there)
have_redis() { [ -x /usr/bin/redis-server ] || command -v redis-server >/dev/null 2>&1; }
if [ $want_servers = 1 ] && ! have_redis; then
  if is_root && have_apt; then
    if apt_install redis-server && have_redis; then
      if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now redis-server >/dev/null 2>&1 || true
      elif command -v service >/dev/null 2>&1; then
        service redis-server stop >/dev/null 2>&1 || true
      fi
    else
      echo "note: redis-server could not be installed; the queue's tests are skipped" >&2
    fi
  else
    echo "note: Redis is not installed (Debian: apt-get install redis-server); the queue's tests are skipped" >&2
  fi
fi
