#!/usr/bin/env bash
# Installs Debian's chromium for the web page's browser tests, when it is missing.
# Safe to run again: it does nothing once /usr/bin/chromium exists. Needs root or sudo.
# The tests drive this system browser through playwright; `playwright install` (which
# downloads its own browsers) is never needed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-nanum >/dev/null
/usr/bin/chromium --version 2>/dev/null || true
