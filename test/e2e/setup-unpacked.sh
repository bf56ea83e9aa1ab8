#!/usr/bin/env bash
# Unpacks a Debian program into a private folder so the end-to-end tests can
# run it without installing it: syslog-ng next to the installed rsyslog, and
# postfix without a mail system on the machine.
#
# Why not `apt-get install`: Debian declares syslog-ng-core in conflict with
# rsyslog (both want to be "the" system logger), and the tests need both;
# an installed postfix would be a configured mail server on the machine. We
# only need the programs and their libraries, never their init scripts, so we
# fetch the .deb files and unpack them with `dpkg -x`, outside dpkg's
# database. Nothing under /usr, /etc or /var is touched.
#
# Result, in $DEST: the package's files (usr/sbin/syslog-ng and its modules
# in usr/lib/syslog-ng/<ver>/; postfix's daemons in usr/lib/postfix/sbin/),
# the shared libraries the machine lacks in usr/lib/<multiarch>/, and a
# banban-e2e.env that test/e2e/lib/syslog-ng.ts or lib/postfix.ts reads
# (paths, LD_LIBRARY_PATH).
#
# Idempotent: a second run finds the stamp of the same package versions and
# a program that starts, and does nothing.
#
# Usage: test/e2e/setup-unpacked.sh syslog-ng|postfix [DEST]
#        (default /opt/banban-e2e/<name>, or $BANBAN_E2E_SYSLOG_NG /
#        $BANBAN_E2E_POSTFIX). Needs root only for the default DEST and apt.
set -euo pipefail
# shellcheck source=../helpers/unpack-debs.sh
source "$(dirname "$0")/../helpers/unpack-debs.sh"

NAME="${1:-}"
case "$NAME" in
  syslog-ng) PKG=syslog-ng-core; DEST="${2:-${BANBAN_E2E_SYSLOG_NG:-/opt/banban-e2e/syslog-ng}}" ;;
  postfix) PKG=postfix; DEST="${2:-${BANBAN_E2E_POSTFIX:-/opt/banban-e2e/postfix}}" ;;
  *) echo "usage: $0 syslog-ng|postfix [DEST]" >&2; exit 64 ;;
esac
STAMP="$DEST/.banban-e2e-stamp"

log() { printf 'setup-unpacked %s: %s\n' "$NAME" "$*" >&2; }

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

# Which packages must be unpacked: $PKG, then every library it needs
# (transitively) that the machine does not have installed. Only "lib*"
# packages are followed: the others in the closure are init-script helpers
# (lsb-base, sysvinit-utils, adduser) or data (sgml-base, ssl-cert) that a
# private program started by hand never uses.
resolve() {
  local -a queue=("$PKG")
  local -A seen=(["$PKG"]=1)
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
# dependencies, and the program's own folder, which holds libsyslog-ng-*.so
# or libpostfix-*.so (the binaries find it through the system path, or
# postfix's RUNPATH /usr/lib/postfix, only when really installed).
libdirs() {
  {
    find "$DEST/usr/lib" "$DEST/lib" -maxdepth 1 -type d -name '*-linux-gnu' 2>/dev/null
    [[ -d "$DEST/usr/lib/$NAME" ]] && printf '%s\n' "$DEST/usr/lib/$NAME"
  } | paste -sd: -
}

# The program the tests start, and one that must link and start.
case "$NAME" in
  syslog-ng) BINARY="$DEST/usr/sbin/syslog-ng" ;;
  postfix) BINARY="$DEST/usr/sbin/postconf" ;;
esac

moddir() {
  find "$DEST/usr/lib/syslog-ng" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*' 2>/dev/null | sort -V | tail -1
}

find_binary_ok() {
  [[ -x "$BINARY" && -f "$DEST/banban-e2e.env" ]] || return 1
  case "$NAME" in
    syslog-ng) LD_LIBRARY_PATH="$(libdirs)" "$BINARY" --version >/dev/null 2>&1 ;;
    postfix) LD_LIBRARY_PATH="$(libdirs)" "$BINARY" -d mail_version >/dev/null 2>&1 ;;
  esac
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(printf '%s' "$WANT")" ]] && find_binary_ok; then
  log "already unpacked in $DEST ($(head -1 "$STAMP"))"
  exit 0
fi

log "downloading: ${PKGS[*]}"
unpack_debs "$DEST" .banban-e2e-stamp "$WANT" "${PKGS[@]}"

# What test/e2e/lib/syslog-ng.ts or lib/postfix.ts needs to start it, so the
# paths are worked out in one place only.
case "$NAME" in
  syslog-ng)
    {
      printf 'SYSLOG_NG=%s\n' "$BINARY"
      printf 'LD_LIBRARY_PATH=%s\n' "$(libdirs)"
      printf 'MODULE_PATH=%s\n' "$(moddir)"
    } > "$DEST/banban-e2e.env"
    ;;
  postfix)
    {
      printf 'DAEMON_DIRECTORY=%s\n' "$DEST/usr/lib/postfix/sbin"
      printf 'SHLIB_DIRECTORY=%s\n' "$DEST/usr/lib/postfix"
      printf 'LD_LIBRARY_PATH=%s\n' "$(libdirs)"
    } > "$DEST/banban-e2e.env"
    ;;
esac

if ! find_binary_ok; then
  log "unpacked, but $BINARY does not start; missing libraries:"
  LD_LIBRARY_PATH="$(libdirs)" ldd "$BINARY" | grep 'not found' >&2 || true
  exit 1
fi

# What is loaded or run later (syslog-ng's modules, postfix's daemons) is not
# proved by the one binary that started: check the ones the tests use.
case "$NAME" in
  syslog-ng) LATER=("$(moddir)"/lib{afsocket,affile,syslogformat,basicfuncs}.so) ;;
  postfix) LATER=("$DEST"/usr/lib/postfix/sbin/{master,smtpd,proxymap,anvil}) ;;
esac
for f in "${LATER[@]}"; do
  if LD_LIBRARY_PATH="$(libdirs)" ldd "$f" | grep -q 'not found'; then
    log "$f lacks libraries:"
    LD_LIBRARY_PATH="$(libdirs)" ldd "$f" | grep 'not found' >&2
    exit 1
  fi
done

log "unpacked into $DEST: $(head -1 "$STAMP")"
