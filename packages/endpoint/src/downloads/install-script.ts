/** The `install.sh` an operator pipes into `sh`: download, verify, install, enroll, start. */
import { AGENT_DOWNLOADS, DOWNLOADS_PATH, shellQuote } from '@tether/protocol';

/**
 * The script for agents of the endpoint at `baseUrl`, embedded as one quoted shell word.
 *
 * It is POSIX sh (dash, busybox ash), and everything runs from `main` on the last line, so a
 * download cut short executes nothing. The join token is only ever passed to the agent as an
 * argument: it is never printed and never written to the unit file. While the agent enrolls,
 * the token is visible in the process list; it is single use and spent by that enrollment.
 * Paths are refused if they hold characters that would need escaping in a systemd unit.
 * The body uses no `${...}` expansions, so the template literal substitutes only our values.
 */
export function renderInstallScript(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return String.raw`#!/bin/sh
# Installs the Tether agent for ${oneLine(base)}
# Usage: curl -fsSL <endpoint>/install.sh | sh -s -- --join-token TOKEN [options]
set -eu
umask 022

BASE_URL=${shellQuote(base)}
DOWNLOADS=${shellQuote(`${base}${DOWNLOADS_PATH}`)}
FILE_X64=${shellQuote(AGENT_DOWNLOADS.x64)}
FILE_ARM64=${shellQuote(AGENT_DOWNLOADS.arm64)}
UNIT_FILE=/etc/systemd/system/tether-agent.service
NEWLINE='
'

say() { printf 'tether-agent install: %s\n' "$*"; }
die() { printf 'tether-agent install: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'USAGE'
Usage: install.sh --join-token TOKEN [options]

  --join-token TOKEN  the join token that enrolls this server (required)
  --name NAME         the name to enroll under (default: this host's name)
  --prefix DIR        where tether-agent goes (default /usr/local/bin, or ~/.local/bin)
  --state DIR         the agent's key and identity (default /var/lib/tether-agent,
                      or ~/.local/state/tether-agent)
  --no-service        install and enroll, but set up no systemd service
USAGE
}

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL -o "$2" "$1" || die "could not download $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || die "could not download $1"
  else
    die "curl or wget is needed to download the agent"
  fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else
    die "sha256sum, shasum or openssl is needed to verify the download"
  fi
}

# Makes a path absolute and refuses what a systemd unit line could not hold as it is.
checked_path() {
  case $1 in
    '' | *[\\\"\$\%\`]* | *"$NEWLINE"*)
      die "$2 must not be empty nor hold a backslash, quote, dollar, percent, backtick, newline" ;;
  esac
  case $1 in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$(pwd)" "$1" ;;
  esac
}

# Paths are already free of the characters that are special inside double quotes.
quoted() {
  case $1 in
    *[!A-Za-z0-9_@%+=:,./-]*) printf '"%s"' "$1" ;;
    *) printf '%s' "$1" ;;
  esac
}

write_unit() {
  cat <<UNIT
[Unit]
Description=Tether remote-support agent
Wants=network-online.target
After=network-online.target

[Service]
ExecStart="$1" --state "$2"
Restart=always
# The agent backs off between reconnects itself; this only paces restarts after a crash.
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
}

main() {
  token='' name='' prefix='' state='' service=1
  while [ $# -gt 0 ]; do
    case $1 in
      --join-token | --name | --prefix | --state)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
          --join-token) token=$2 ;;
          --name) name=$2 ;;
          --prefix) prefix=$2 ;;
          --state) state=$2 ;;
        esac
        shift 2 ;;
      --no-service) service=0; shift ;;
      -h | --help) usage; exit 0 ;;
      -*=*) die "options take their value as the next argument (see --help)" ;;
      -*) die "unknown option $1 (see --help)" ;;
      *) die "unexpected argument, not shown as it may be secret (see --help)" ;;
    esac
  done
  [ -n "$token" ] || die "--join-token TOKEN is required (see --help)"

  root=0
  [ "$(id -u)" -ne 0 ] || root=1
  if [ "$root" = 1 ]; then
    default_prefix=/usr/local/bin
    default_state=/var/lib/tether-agent
  elif home=$(printenv HOME); then
    default_prefix=$home/.local/bin
    default_state=$home/.local/state/tether-agent
  else
    default_prefix='' default_state=''
  fi
  [ -n "$prefix" ] || prefix=$default_prefix
  [ -n "$state" ] || state=$default_state
  [ -n "$prefix" ] && [ -n "$state" ] || die "HOME is not set: pass --prefix and --state"
  prefix=$(checked_path "$prefix" --prefix)
  state=$(checked_path "$state" --state)

  [ "$(uname -s)" = Linux ] || die "the agent runs on Linux, not $(uname -s)"
  machine=$(uname -m)
  case $machine in
    x86_64 | amd64) file=$FILE_X64 ;;
    aarch64 | arm64) file=$FILE_ARM64 ;;
    *) die "there is no agent for $machine: builds exist for x86_64 and aarch64" ;;
  esac

  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  trap 'exit 130' INT TERM
  say "downloading $DOWNLOADS$file"
  fetch "$DOWNLOADS$file" "$tmp/$file"
  fetch "$DOWNLOADS$file.sha256" "$tmp/$file.sha256"
  expected=$(cut -d ' ' -f 1 < "$tmp/$file.sha256")
  case $expected in
    '' | *[!0-9a-f]*) die "$DOWNLOADS$file.sha256 holds no SHA-256 checksum" ;;
  esac
  actual=$(sha256 "$tmp/$file")
  [ "$actual" = "$expected" ] ||
    die "checksum mismatch for $file (expected $expected, got $actual): nothing was installed"

  agent=$prefix/tether-agent
  mkdir -p "$prefix"
  cp "$tmp/$file" "$agent.new.$$"
  chmod 0755 "$agent.new.$$"
  mv -f "$agent.new.$$" "$agent"
  say "installed $agent"

  say "enrolling with $BASE_URL"
  set -- --endpoint "$BASE_URL" --join-token "$token" --state "$state" --enroll-only
  [ -z "$name" ] || set -- "$@" --name "$name"
  "$agent" "$@" || die "enrollment failed (exit $?): is the join token still valid?"

  if [ "$service" = 1 ] && [ "$root" = 1 ] && [ -d /run/systemd/system ]; then
    write_unit "$agent" "$state" > "$UNIT_FILE.new.$$"
    mv -f "$UNIT_FILE.new.$$" "$UNIT_FILE"
    systemctl daemon-reload
    systemctl enable tether-agent.service
    systemctl restart tether-agent.service
    say "the agent runs as tether-agent.service; logs: journalctl -u tether-agent"
  else
    say "start the agent with:"
    printf '  %s --state %s\n' "$(quoted "$agent")" "$(quoted "$state")"
  fi
}

main "$@"
`;
}

/** For the comment line only: the quoted BASE_URL assignment is what the script uses. */
function oneLine(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
