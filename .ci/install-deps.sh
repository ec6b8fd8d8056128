#!/bin/sh
# install-deps.sh installs the system packages Gatehouse's tests need:
# slapd and ldap-utils for connectors/ldap, which starts its own unprivileged
# slapd per test run. Safe to run repeatedly. The Debian package starts a
# system slapd on port 389 after install; the tests never use it, so it is
# stopped to keep the machine quiet and port 389 free.
set -eu

if command -v slapd >/dev/null 2>&1 && command -v ldapsearch >/dev/null 2>&1; then
	echo "install-deps: slapd and ldap-utils already installed"
else
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO="sudo"
	fi
	$SUDO apt-get update
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils
fi

# Stop the system slapd the package may have started (by service or pid file),
# never by process name: other slapd processes (tests) may be running.
if command -v service >/dev/null 2>&1; then
	service slapd stop >/dev/null 2>&1 || true
fi
for pidfile in /run/slapd/slapd.pid /var/run/slapd/slapd.pid; do
	if [ -f "$pidfile" ]; then
		kill "$(cat "$pidfile")" 2>/dev/null || true
	fi
done
# --- packaging checks (cmd/gatehouse/processtest TestSystemdUnit) -----------------------
# systemd-analyze verifies examples/systemd/gatehouse.service. The Dockerfile
# is checked by a Go test with BuildKit's parser (no Docker engine in CI, no
# hadolint package in Debian or the registries), so it needs nothing here.
if command -v systemd-analyze >/dev/null 2>&1; then
	echo "install-deps: systemd-analyze already installed"
else
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO="sudo"
	fi
	$SUDO apt-get update
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd
fi
# --- end packaging checks ---------------------------------------------------
# Vendor API descriptions the connector tests validate against (npm
# packages, pinned), one script per vendor, each installing into its own
# prefix under .ci/specs/VENDOR so that one npm install never prunes another.
for f in "$(dirname "$0")"/deps.d/*.sh; do
	[ -f "$f" ] || continue
	echo "install-deps: $(basename "$f")"
	sh "$f"
done
echo "install-deps: done"
