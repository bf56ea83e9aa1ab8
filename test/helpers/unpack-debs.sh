# Sourced by test/e2e/setup-unpacked.sh and test/presets/setup-fail2ban.sh:
# Debian packages fetched and unpacked into a private folder, outside dpkg's
# database (nothing under /usr, /etc or /var is touched, no maintainer script
# runs).
#
# unpack_debs DEST STAMP_FILE STAMP_TEXT PACKAGE...
#   downloads the packages (name or name=version), unpacks them all into a
#   new tree, writes STAMP_TEXT into STAMP_FILE (a name inside the tree), and
#   only then swaps the tree in as DEST, so a run killed halfway never leaves
#   a half-unpacked DEST behind that the stamp would vouch for.
unpack_debs() {
  local dest="$1" stamp_file="$2" stamp_text="$3"
  shift 3
  local work deb
  work="$(mktemp -d)"
  # apt-get download drops privileges to _apt when it can; give it a folder
  # it may write to, so it does not warn about an unsandboxed download.
  chmod 0777 "$work"
  mkdir -p "$work/debs" "$work/root"
  chmod 0777 "$work/debs"
  if ! (cd "$work/debs" && apt-get download -q "$@" >&2); then
    rm -rf "$work"
    return 1
  fi
  for deb in "$work"/debs/*.deb; do
    dpkg -x "$deb" "$work/root"
  done
  printf '%s' "$stamp_text" > "$work/root/$stamp_file"
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest.old"
  if [[ -e "$dest" ]]; then mv "$dest" "$dest.old"; fi
  mv "$work/root" "$dest"
  rm -rf "$dest.old" "$work"
}
