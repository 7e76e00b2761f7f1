#!/usr/bin/env bash
# Uninstall Omnidesk: the desktop entry and icon, and the virtual environment (.venv) that install.sh made.
# Your settings, downloaded models, recordings, runs and logs stay unless you add --purge.
# Idempotent: running it again removes nothing more and succeeds.
#
#   installer/uninstall.sh [--purge] [--venv DIR]
#     --purge      also delete Omnidesk's settings and data folders (each is printed, with its size, first)
#     --venv DIR   the virtual environment to remove (default: .venv in this source tree)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1 ;;
    --venv)
      [ $# -ge 2 ] || { echo "uninstall.sh: --venv needs a folder" >&2; exit 2; }
      VENV=$(realpath -m "$2"); shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "Desktop entry and icon"
bash "$ROOT/installer/desktop_entry.sh" remove

say "Virtual environment"
if [ ! -e "$VENV" ]; then
  echo "No virtual environment at $VENV"
elif [ ! -f "$VENV/pyvenv.cfg" ] || [ "$VENV" = / ] || [ "$VENV" = "$HOME" ]; then
  echo "uninstall.sh: $VENV is not a virtual environment (no pyvenv.cfg); not deleting it" >&2
  exit 1
else
  rm -rf -- "$VENV"
  echo "Removed $VENV"
fi

# The folders Omnidesk keeps (app/settings.py AppPaths: platformdirs' user config/data dirs on Linux).
CONFIG_DIR=${OMNIDESK_CONFIG_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/omnidesk}
DATA_DIR=${OMNIDESK_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/omnidesk}
if [ -n "${OMNIDESK_RUNTIME_DIR:-}" ]; then
  RUNTIME_DIR=$OMNIDESK_RUNTIME_DIR
elif [ -n "${XDG_RUNTIME_DIR:-}" ]; then
  RUNTIME_DIR="$XDG_RUNTIME_DIR/omnidesk"
else
  RUNTIME_DIR="${TMPDIR:-/tmp}/omnidesk-$(id -u)"
fi

if [ "$PURGE" = 1 ]; then
  say "Purging settings and data"
  for entry in "settings:$CONFIG_DIR" "data (models, recordings, runs, automations, logs):$DATA_DIR" \
               "runtime files:$RUNTIME_DIR"; do
    what=${entry%%:*} dir=${entry#*:}
    if [ "$(realpath -m -- "$dir")" = / ] || [ "$(realpath -m -- "$dir")" = "$(realpath -m -- "$HOME")" ]; then
      echo "uninstall.sh: refusing to delete $dir as Omnidesk's $what folder" >&2
      exit 1
    elif [ -e "$dir" ]; then
      echo "Deleting $what: $dir ($(du -sh -- "$dir" 2>/dev/null | cut -f1))"
      rm -rf -- "$dir"
    else
      echo "No $what at $dir"
    fi
  done
  echo "Kept: secrets in the system keyring under the service 'omnidesk' (delete each with: keyring del omnidesk NAME)"
else
  say "Kept your settings and data (delete them with --purge)"
  for dir in "$CONFIG_DIR" "$DATA_DIR"; do
    if [ -e "$dir" ]; then echo "  $dir"; fi
  done
fi
say "Omnidesk is uninstalled"
