#!/usr/bin/env bash
# Installs the system services the tests use when they are missing: a
# PostgreSQL server, Debian's Chromium (browser tests), poppler (PDF checks)
# and a Java runtime (PySpark). Needs root or sudo and Debian's apt; without
# them it names what is missing, and the tests that need it skip (or fail
# under CI=true).
set -euo pipefail

need=()
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null \
  || need+=(postgresql)
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "system-deps.sh: missing ${need[*]}; install them as root:" >&2
    echo "  apt-get install ${need[*]}" >&2
    exit 0
  fi
fi
if ! command -v apt-get >/dev/null; then
  echo "system-deps.sh: missing ${need[*]} and no apt-get to install them" >&2
  exit 0
fi
echo "system-deps.sh: installing ${need[*]} (once)" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
