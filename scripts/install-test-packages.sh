#!/usr/bin/env bash
# Install the Debian packages the tests need: headless Chromium and its WebDriver (the browser test
# of the HTML report) and the PostgreSQL JDBC driver (the Spark JDBC test). Safe to run again: it
# returns at once when all three are already present.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
POSTGRES_JAR=/usr/share/java/postgresql.jar

if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" && -f "$POSTGRES_JAR" ]]; then
    echo "chromium, chromedriver and the PostgreSQL JDBC driver are already installed."
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "Installing the test packages needs root: run this script as root or install sudo, or" >&2
    echo "install the Debian packages 'chromium', 'chromium-driver' and" >&2
    echo "'libpostgresql-jdbc-java' yourself." >&2
    exit 1
fi

"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium chromium-driver libpostgresql-jdbc-java

"$CHROMIUM" --version
"$CHROMEDRIVER" --version
ls -l "$POSTGRES_JAR"
