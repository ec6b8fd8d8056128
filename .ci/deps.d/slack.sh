#!/bin/sh
# slack.sh installs Slack's own typed description of its Web API, shipped in
# @slack/web-api: dist/types/request/*.d.ts (the arguments of every method)
# and dist/types/response/*Response.d.ts (the shape of every answer).
# connectors/slack/slackapptest validates every request it receives and
# every response it sends against them. Pinned; skipped when installed.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX="$ROOT/.ci/specs/slack"
PKG="@slack/web-api"
VERSION="7.13.0"
if [ -f "$PREFIX/node_modules/@slack/web-api/package.json" ] &&
	grep -q "\"version\": \"$VERSION\"" "$PREFIX/node_modules/@slack/web-api/package.json"; then
	echo "slack: $PKG@$VERSION already installed"
	exit 0
fi
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --ignore-scripts "$PKG@$VERSION"
