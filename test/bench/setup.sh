#!/usr/bin/env bash
# Installs the tools `npm run bench` compares banban with, and nothing else:
#
#   - fail2ban (Debian's package): fail2ban-regex and its sshd filter;
#   - sshguard (Debian's package): its C log parser, /usr/libexec/sshguard/sshg-parser;
#   - gcc, which compiles the bench's datagram sender (test/bench/sender.c).
#
# Neither service is started or enabled: while the packages install, a
# policy-rc.d that forbids every invoke-rc.d action is in place (the trick
# .ci/run uses). A policy-rc.d that was there already is left alone.
#
# Not run by CI, and the bench does not need it to run: without these tools
# the bench skips the comparison and says so.
#
# Idempotent: packages already installed are not fetched again.
# Usage (as root): bash test/bench/setup.sh
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

log() { printf 'bench setup: %s\n' "$*" >&2; }

if [[ "$(id -u)" -ne 0 ]]; then
  log "must run as root (apt-get)"
  exit 1
fi

# "ii " in dpkg's abbreviated status means installed and configured.
installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)" == ii* ]]
}

want=()
for pkg in fail2ban sshguard gcc libc6-dev; do
  installed "$pkg" || want+=("$pkg")
done

if ((${#want[@]} == 0)); then
  log "fail2ban, sshguard and gcc are installed already"
else
  POLICY=/usr/sbin/policy-rc.d
  OUR_POLICY=0
  if [[ ! -e "$POLICY" ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY"
    chmod 0755 "$POLICY"
    OUR_POLICY=1
    trap 'rm -f "$POLICY"' EXIT
  fi
  # A package list older than a day is refreshed; a fresh one is reused.
  if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 -print -quit 2>/dev/null)" ]]; then
    apt-get update -q
  fi
  log "installing ${want[*]}"
  apt-get install -y -q --no-install-recommends "${want[@]}"
  if ((OUR_POLICY)); then
    rm -f "$POLICY"
    trap - EXIT
  fi
fi

# The package installs its init script and unit but, with policy-rc.d, never
# ran them; make sure neither daemon runs now (a machine with a real init
# system and no policy-rc.d would have started them).
for svc in fail2ban sshguard; do
  if pgrep -x "$svc" >/dev/null 2>&1 || pgrep -f "/usr/bin/$svc" >/dev/null 2>&1 || pgrep -f "/usr/sbin/$svc" >/dev/null 2>&1; then
    log "note: a $svc service is running on this machine; the bench does not need it (stop it with: systemctl disable --now $svc)"
  fi
done

for tool in /usr/bin/fail2ban-regex /usr/libexec/sshguard/sshg-parser /usr/bin/gcc; do
  if [[ -x "$tool" ]]; then log "ok: $tool"; else log "missing: $tool"; exit 1; fi
done
