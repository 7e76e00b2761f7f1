#!/usr/bin/env bash
# Install Omnidesk from this source tree: system packages, a virtual environment in .venv, Omnidesk
# itself, and llama-cpp-python built for CUDA when the CUDA toolkit with cuBLAS is present (else CPU).
# Idempotent: run it again to repair or upgrade. Ends with `omnidesk doctor`.
#
#   installer/install.sh [--dev] [--cpu | --cuda] [--desktop] [--no-doctor] [--venv DIR]
#     --dev        also install test/lint tools and the desktop test rig's system packages
#     --cpu        build llama-cpp-python for the CPU even when CUDA is present
#     --cuda       build llama-cpp-python with CUDA (fails clearly if the toolkit is missing)
#     --desktop    add Omnidesk to your desktop menu (entry + icon under ~/.local/share; uninstall.sh removes it)
#     --no-doctor  skip the final `omnidesk doctor`
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
DEV=0 BACKEND=auto DOCTOR=1 DESKTOP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) DEV=1 ;;
    --cpu) BACKEND=cpu ;;
    --cuda) BACKEND=cuda ;;
    --desktop) DESKTOP=1 ;;
    --no-doctor) DOCTOR=0 ;;
    --venv) VENV=$(realpath -m "$2"); shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# What the app needs at run time (at-spi2-core: the accessibility bus, for the focused-password-field check),
# and what the tests' real desktop needs (X server, sound, speech, a session D-Bus, real GTK 3 / Qt 5 apps).
APP_PACKAGES="python3 python3-venv python3-dev python3-tk build-essential cmake git linux-libc-dev
  libportaudio2 libasound2-plugins xdotool x11-utils
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1
  libdbus-1-3 fonts-dejavu-core at-spi2-core"
DEV_PACKAGES="xvfb xauth x11-xserver-utils scrot imagemagick openbox xserver-xorg-core
  xserver-xorg-video-dummy pulseaudio pulseaudio-utils espeak-ng sox desktop-file-utils xterm
  dbus galculator mousepad featherpad gtk-3-examples"

install_system_packages() {
  local wanted="$APP_PACKAGES" missing=()
  [ "$DEV" = 1 ] && wanted="$wanted $DEV_PACKAGES"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Not a Debian/Ubuntu system: install these packages (or your distribution's equivalents) yourself:"
    echo "  $(echo $wanted)"
    return 0
  fi
  for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "System packages: all present"
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "Need root to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  say "Installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Omnidesk needs Python 3.11 or newer; none found (set PYTHON=/path/to/python3.11)" >&2
  exit 1
}

cuda_available() {
  command -v nvcc >/dev/null 2>&1 || return 1
  ldconfig -p 2>/dev/null | grep -q libcublas && return 0
  local home=${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}
  ls "$home"/lib64/libcublas.so* "$home"/targets/*/lib/libcublas.so* >/dev/null 2>&1
}

install_system_packages
PY=$(pick_python)
if [ ! -x "$VENV/bin/python" ]; then
  say "Creating the virtual environment $VENV ($("$PY" --version))"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip setuptools wheel

case "$BACKEND" in
  auto) if cuda_available; then BACKEND=cuda; else BACKEND=cpu; fi ;;
  cuda) cuda_available || { echo "--cuda: nvcc and cuBLAS not found; install the CUDA toolkit or use --cpu" >&2; exit 1; } ;;
esac

if [ "$BACKEND" = cuda ]; then
  if "$VENV/bin/python" -c 'import llama_cpp, sys; sys.exit(not llama_cpp.llama_supports_gpu_offload())' 2>/dev/null; then
    say "llama-cpp-python: already built with CUDA"
  else
    say "llama-cpp-python: building with CUDA (GGML_CUDA=on); this takes a while"
    CMAKE_ARGS="-DGGML_CUDA=on" "${PIP[@]}" install --no-cache-dir --force-reinstall --no-deps "llama-cpp-python>=0.3.36"
  fi
else
  say "llama-cpp-python: CPU backend (first build compiles llama.cpp, about 10 minutes on 2 cores; pip caches the wheel)"
fi

if [ "$DEV" = 1 ]; then
  say "Installing Omnidesk (editable) with test and lint tools"
  "${PIP[@]}" install -q -e "$ROOT[dev]"
else
  say "Installing Omnidesk"
  "${PIP[@]}" install -q "$ROOT"
fi

say "Installed: $("$VENV/bin/omnidesk" --version) with the $BACKEND backend"
if [ "$DESKTOP" = 1 ]; then
  say "Desktop entry"
  bash "$ROOT/installer/desktop_entry.sh" install "$VENV/bin/omnidesk"
elif [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "Tip: installer/install.sh --desktop adds Omnidesk to your desktop's application menu"
fi
if [ "$DOCTOR" = 1 ]; then
  say "omnidesk doctor"
  "$VENV/bin/omnidesk" doctor || echo "(doctor lists what is still missing above; Omnidesk is installed)"
fi
