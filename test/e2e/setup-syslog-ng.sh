#!/usr/bin/env bash
# Unpacks Debian's syslog-ng into a private folder so the end-to-end tests can
# run a real syslog-ng next to the installed rsyslog.
#
# Why not `apt-get install syslog-ng-core`: Debian declares it in conflict
# with rsyslog (both want to be "the" system logger), and the tests need
# both. We only need the program and its modules, never its init scripts, so
# we fetch the .deb files and unpack them with `dpkg -x`, outside dpkg's
# database. Nothing under /usr, /etc or /var is touched.
#
# Result: $DEST/usr/sbin/syslog-ng, modules in $DEST/usr/lib/syslog-ng/<ver>/,
# and the shared libraries the machine lacks in $DEST/usr/lib/x86_64-linux-gnu/
# (or the machine's multiarch folder). test/e2e/lib/syslog-ng.ts runs it with
# LD_LIBRARY_PATH and --module-path pointing there.
#
# Idempotent: a second run finds the stamp of the same package versions and
# a binary that starts, and does nothing.
#
# Usage: test/e2e/setup-syslog-ng.sh [DEST]     (default /opt/banban-e2e/syslog-ng,
#        or $BANBAN_E2E_SYSLOG_NG). Needs root only for the default DEST and apt.
set -euo pipefail

DEST="${1:-${BANBAN_E2E_SYSLOG_NG:-/opt/banban-e2e/syslog-ng}}"
STAMP="$DEST/.banban-e2e-stamp"

log() { printf 'setup-syslog-ng: %s\n' "$*" >&2; }

# "ii " in dpkg's abbreviated status means installed and configured.
installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)" == ii* ]]
}

candidate() {
  apt-cache policy "$1" | awk '/Candidate:/ { print $2; exit }'
}

# The Depends of one package, one group per line, alternatives separated by
# spaces. `apt-cache depends` marks an alternative with a leading "|" on every
# member but the last; indented lines without "Depends:" list the providers
# of a virtual package and are skipped.
depends_groups() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$1" |
    awk '
      /^ *\|?(Pre)?Depends:/ {
        alt = ($1 ~ /^\|/)
        name = $2
        gsub(/[<>]/, "", name)
        sub(/:any$/, "", name)
        group = (group == "" ? name : group " " name)
        if (!alt) { print group; group = "" }
      }'
}

# Which packages must be unpacked: syslog-ng-core, then every library it needs
# (transitively) that the machine does not have installed. Only "lib*"
# packages are followed: the others in the closure are init-script helpers
# (lsb-base, sysvinit-utils) or data (sgml-base) that a private syslog-ng
# started by hand never uses.
resolve() {
  local -a queue=(syslog-ng-core)
  local -A seen=([syslog-ng-core]=1)
  local pkg group alt pick
  while ((${#queue[@]})); do
    pkg="${queue[0]}"
    queue=("${queue[@]:1}")
    printf '%s\n' "$pkg"
    while read -r group; do
      [[ -z "$group" ]] && continue
      pick=""
      for alt in $group; do
        if installed "$alt"; then pick="-"; break; fi
      done
      [[ "$pick" == "-" ]] && continue
      for alt in $group; do
        if [[ -n "$(candidate "$alt")" && "$(candidate "$alt")" != "(none)" ]]; then pick="$alt"; break; fi
      done
      [[ -z "$pick" || "$pick" != lib* ]] && continue
      if [[ -z "${seen[$pick]:-}" ]]; then
        seen[$pick]=1
        queue+=("$pick")
      fi
    done < <(depends_groups "$pkg")
  done
}

mapfile -t PKGS < <(resolve)
WANT=""
for p in "${PKGS[@]}"; do WANT+="$p=$(candidate "$p")"$'\n'; done

# Where the unpacked shared libraries are: the multiarch folders of the
# dependencies, and syslog-ng's own folder, which holds libsyslog-ng-*.so
# (the binary finds it through the system path only when really installed).
libdirs() {
  {
    find "$DEST/usr/lib" "$DEST/lib" -maxdepth 1 -type d -name '*-linux-gnu' 2>/dev/null
    [[ -d "$DEST/usr/lib/syslog-ng" ]] && printf '%s\n' "$DEST/usr/lib/syslog-ng"
  } | paste -sd: -
}

moddir() {
  find "$DEST/usr/lib/syslog-ng" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*' 2>/dev/null | sort -V | tail -1
}

find_binary_ok() {
  [[ -x "$DEST/usr/sbin/syslog-ng" && -f "$DEST/banban-e2e.env" ]] || return 1
  LD_LIBRARY_PATH="$(libdirs)" "$DEST/usr/sbin/syslog-ng" --version >/dev/null 2>&1
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(printf '%s' "$WANT")" ]] && find_binary_ok; then
  log "already unpacked in $DEST ($(head -1 "$STAMP"))"
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# apt-get download drops privileges to _apt when it can; give it a folder it
# may write to, so it does not warn about an unsandboxed download.
chmod 0777 "$WORK"
mkdir -p "$WORK/debs" "$WORK/root"
chmod 0777 "$WORK/debs"

log "downloading: ${PKGS[*]}"
(cd "$WORK/debs" && apt-get download -q "${PKGS[@]}" >&2)

for deb in "$WORK"/debs/*.deb; do
  dpkg -x "$deb" "$WORK/root"
done
printf '%s' "$WANT" > "$WORK/root/.banban-e2e-stamp"

# Swap the whole folder in at once, so a run killed halfway never leaves a
# half-unpacked tree behind that the stamp would vouch for.
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.old"
[[ -e "$DEST" ]] && mv "$DEST" "$DEST.old"
mv "$WORK/root" "$DEST"
rm -rf "$DEST.old"

# What test/e2e/lib/syslog-ng.ts needs to start it, so the paths are worked
# out in one place only.
{
  printf 'SYSLOG_NG=%s\n' "$DEST/usr/sbin/syslog-ng"
  printf 'LD_LIBRARY_PATH=%s\n' "$(libdirs)"
  printf 'MODULE_PATH=%s\n' "$(moddir)"
} > "$DEST/banban-e2e.env"

if ! find_binary_ok; then
  log "unpacked, but $DEST/usr/sbin/syslog-ng does not start; missing libraries:"
  LD_LIBRARY_PATH="$(libdirs)" ldd "$DEST/usr/sbin/syslog-ng" | grep 'not found' >&2 || true
  exit 1
fi

# The modules are loaded at run time, so ldd on the binary alone does not
# prove they link; check the few the tests use.
for mod in "$(moddir)"/lib{afsocket,affile,syslogformat,basicfuncs}.so; do
  if LD_LIBRARY_PATH="$(libdirs)" ldd "$mod" | grep -q 'not found'; then
    log "module $mod lacks libraries:"
    LD_LIBRARY_PATH="$(libdirs)" ldd "$mod" | grep 'not found' >&2
    exit 1
  fi
done

log "unpacked into $DEST: $(LD_LIBRARY_PATH="$(libdirs)" "$DEST/usr/sbin/syslog-ng" --version | head -1)"
