#!/usr/bin/env bash
# Makes the filter test logs of Debian's fail2ban package available to
# test/presets/fail2ban-score.test.ts, which scores banban's presets on them.
#
# fail2ban is not installed and never started: only its .deb is fetched
# (`apt-get download`) and unpacked with `dpkg -x` into a private folder,
# outside dpkg's database. Nothing under /usr, /etc or /var is touched, no
# maintainer script runs, no service is enabled.
#
# Result: the logs in $DEST/usr/lib/python3/dist-packages/fail2ban/tests/files/logs,
# whose path is printed on stdout (the only line printed there).
# If fail2ban is installed on the machine already, its logs are used and
# nothing is downloaded.
#
# Idempotent: a second run finds the stamp of the same package version and
# the logs, and does nothing.
#
# Usage: test/presets/setup-fail2ban.sh [DEST]   (default /opt/banban-test/fail2ban,
#        or $BANBAN_FAIL2BAN_DIR). Needs root only for the default DEST.
set -euo pipefail
# shellcheck source=../helpers/unpack-debs.sh
source "$(dirname "$0")/../helpers/unpack-debs.sh"

DEST="${1:-${BANBAN_FAIL2BAN_DIR:-/opt/banban-test/fail2ban}}"
REL=usr/lib/python3/dist-packages/fail2ban/tests/files/logs
SYSTEM_LOGS="/$REL"
STAMP="$DEST/.banban-test-stamp"

log() { printf 'setup-fail2ban: %s\n' "$*" >&2; }

logs_ok() {
  [[ -f "$1/sshd" && -f "$1/postfix" && -f "$1/dovecot" ]]
}

if logs_ok "$SYSTEM_LOGS"; then
  log "fail2ban is installed; using its logs"
  printf '%s\n' "$SYSTEM_LOGS"
  exit 0
fi

version="$(apt-cache policy fail2ban | awk '/Candidate:/ { print $2; exit }')"
if [[ -z "$version" || "$version" == "(none)" ]]; then
  log "apt knows no fail2ban package; run apt-get update first"
  exit 1
fi
WANT="fail2ban=$version"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] && logs_ok "$DEST/$REL"; then
  log "already unpacked in $DEST ($WANT)"
  printf '%s\n' "$DEST/$REL"
  exit 0
fi

log "downloading $WANT"
unpack_debs "$DEST" .banban-test-stamp "$WANT" "$WANT"
if ! logs_ok "$DEST/$REL"; then
  log "the package holds no test logs at /$REL"
  exit 1
fi

log "unpacked $WANT into $DEST"
printf '%s\n' "$DEST/$REL"
