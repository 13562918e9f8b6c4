#!/bin/sh
# Makes sure PostgreSQL server binaries (initdb, pg_ctl, postgres) exist for the store tests.
# CI machines are fresh Debian, run as root and reach Debian's packages: install postgresql there.
# Does nothing when the binaries are already present. The tests start their own server.
set -eu

have_server() {
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "PostgreSQL server binaries found in $dir" >&2
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    echo "PostgreSQL server binaries found on PATH ($(command -v initdb))" >&2
    return 0
  fi
  return 1
}

if have_server; then exit 0; fi

if [ "$(id -u)" != "0" ]; then
  echo "PostgreSQL server binaries are missing; run as root, or install them: sudo apt-get install postgresql" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries are missing and apt-get is not available; install PostgreSQL (initdb, pg_ctl, postgres) yourself" >&2
  exit 1
fi

echo "installing Debian's postgresql package for the store tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# the package's own cluster is not needed: the tests run initdb themselves
apt-get install -y -qq --no-install-recommends postgresql >&2
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for cluster in /etc/postgresql/*/main; do
    [ -d "$cluster" ] || continue
    version=$(basename "$(dirname "$cluster")")
    pg_ctlcluster "$version" main stop >/dev/null 2>&1 || true
  done
fi
have_server
