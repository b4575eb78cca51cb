#!/usr/bin/env bash
# Installs Debian/Ubuntu packages with apt, as root or through sudo, for the install-*.sh
# scripts: `apt-install.sh WHAT HINT PACKAGE...` — WHAT names what is missing in the error
# lines, HINT says what to do where apt-get is not available.
set -euo pipefail
what=$1 hint=$2
shift 2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: $what is missing; install as root: apt-get install $*" >&2; exit 1; }
    SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "error: $what is missing and apt-get is not available; $hint" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
