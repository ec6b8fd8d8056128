#!/bin/sh
# github.sh installs GitHub's own OpenAPI description of its REST API (npm
# @octokit/openapi, pinned) into .ci/specs/github. connectors/github/githubtest
# validates every request and response of its fake GitHub against
# generated/api.github.com.json (OpenAPI 3.0) from this package.
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="$ROOT/.ci/specs/github"
PKG="@octokit/openapi"
VERSION="23.0.2"
SPEC="$PREFIX/node_modules/@octokit/openapi/generated/api.github.com.json"
if [ -f "$SPEC" ] && grep -q "\"version\": \"$VERSION\"" "$PREFIX/node_modules/@octokit/openapi/package.json" 2>/dev/null; then
	echo "github.sh: $PKG@$VERSION already installed"
	exit 0
fi
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "$PKG@$VERSION"
[ -f "$SPEC" ] || { echo "github.sh: $SPEC missing after install" >&2; exit 1; }
