#!/usr/bin/env bash
# Add or remove Omnidesk's launcher entry and icon in this user's desktop menus (freedesktop.org paths
# under $XDG_DATA_HOME, by default ~/.local/share). Used by install.sh --desktop and uninstall.sh.
#
#   installer/desktop_entry.sh install /path/to/venv/bin/omnidesk
#   installer/desktop_entry.sh remove
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
ENTRY="$DATA_HOME/applications/omnidesk.desktop"
SVG="$DATA_HOME/icons/hicolor/scalable/apps/omnidesk.svg"
PNG="$DATA_HOME/icons/hicolor/256x256/apps/omnidesk.png"

refresh_menus() {
  if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$DATA_HOME/applications" || true
  fi
}

install_entry() {
  local command=$1
  case "$command" in
    /*) ;;
    *) echo "desktop_entry.sh: give the absolute path of the omnidesk command, not '$command'" >&2; exit 2 ;;
  esac
  case "$command" in
    *[\"\`\$\\]*)
      echo "desktop_entry.sh: cannot write a launcher for a path with \" \` \$ or \\ in it: $command" >&2
      exit 2 ;;
  esac
  # Exec is quoted (the path may hold spaces) and % is doubled (Exec field codes); TryExec is a plain path.
  local exec_value="\"${command//%/%%}\""
  mkdir -p "$(dirname "$ENTRY")" "$(dirname "$SVG")" "$(dirname "$PNG")"
  local line tmp="$ENTRY.tmp.$$"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      Exec=*) printf 'Exec=%s\n' "$exec_value" ;;
      TryExec=*) printf 'TryExec=%s\n' "$command" ;;
      *) printf '%s\n' "$line" ;;
    esac
  done <"$ROOT/installer/omnidesk.desktop" >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$ENTRY"
  install -m 644 "$ROOT/assets/icons/omnidesk.svg" "$SVG"
  install -m 644 "$ROOT/assets/icons/omnidesk.png" "$PNG"
  refresh_menus
  echo "Desktop entry: $ENTRY (runs $command)"
  echo "Icon: $SVG"
}

remove_entry() {
  local path removed=0
  for path in "$ENTRY" "$SVG" "$PNG"; do
    if [ -e "$path" ]; then
      rm -f "$path"
      echo "Removed $path"
      removed=1
    fi
  done
  if [ "$removed" = 1 ]; then
    refresh_menus
  else
    echo "No desktop entry or icon to remove"
  fi
}

case "${1:-}" in
  install) [ $# -eq 2 ] || { echo "usage: $0 install /path/to/omnidesk" >&2; exit 2; }; install_entry "$2" ;;
  remove) remove_entry ;;
  *) echo "usage: $0 install /path/to/omnidesk | remove" >&2; exit 2 ;;
esac
