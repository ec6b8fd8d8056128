#!/bin/sh
# install-deps.sh installs what Gatehouse's tests need beyond Go, in one apt
# transaction, skipping whatever is already there (safe to run repeatedly):
#   - slapd and ldap-utils for connectors/ldap, which starts its own
#     unprivileged slapd per test run;
#   - promtool (Debian package prometheus), which checks
#     examples/prometheus/alerts.yaml and lints the metrics exposition;
#   - systemd-analyze (package systemd), which verifies
#     examples/systemd/gatehouse.service (cmd/gatehouse/processtest). The
#     Dockerfile is checked by a Go test with BuildKit's parser: there is no
#     Docker engine in CI and no hadolint package in Debian or the registries;
#   - the vendors' API descriptions (npm, pinned) that the connector fakes
#     validate every request and response against (.ci/deps.d/*.sh).
# The Debian packages start system daemons (slapd on 389, prometheus on
# 9090) after install; the tests never use them, so they are stopped.
set -eu

pkgs=""
if ! command -v slapd >/dev/null 2>&1 || ! command -v ldapsearch >/dev/null 2>&1; then
	pkgs="$pkgs slapd ldap-utils"
fi
if ! command -v promtool >/dev/null 2>&1; then
	pkgs="$pkgs prometheus"
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
	pkgs="$pkgs systemd"
fi
if [ -n "$pkgs" ]; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO="sudo"
	fi
	echo "install-deps: apt-get install$pkgs"
	$SUDO apt-get update
	# shellcheck disable=SC2086 # the list is meant to split
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
else
	echo "install-deps: slapd, ldap-utils, promtool and systemd-analyze already installed"
fi

# Stop the system daemons the packages may have started (by service or pid
# file), never by process name: other slapd processes (tests) may be running.
if command -v service >/dev/null 2>&1; then
	service slapd stop >/dev/null 2>&1 || true
	service prometheus stop >/dev/null 2>&1 || true
fi
for pidfile in /run/slapd/slapd.pid /var/run/slapd/slapd.pid; do
	if [ -f "$pidfile" ]; then
		kill "$(cat "$pidfile")" 2>/dev/null || true
	fi
done

# Vendor API descriptions the connector tests validate against (npm
# packages, pinned), one script per vendor, each installing into its own
# prefix under .ci/specs/VENDOR so that one npm install never prunes another.
for f in "$(dirname "$0")"/deps.d/*.sh; do
	[ -f "$f" ] || continue
	echo "install-deps: $(basename "$f")"
	sh "$f"
done
echo "install-deps: done"
