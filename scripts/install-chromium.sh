#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian packages) for the browser test of the
# HTML report. Safe to run again: it returns at once when both binaries are already present.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; then
    echo "chromium and chromedriver are already installed."
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "Installing chromium needs root: run this script as root or install sudo," >&2
    echo "or install the Debian packages 'chromium' and 'chromium-driver' yourself." >&2
    exit 1
fi

"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium chromium-driver

"$CHROMIUM" --version
"$CHROMEDRIVER" --version
