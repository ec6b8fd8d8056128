#!/bin/sh
# entra.sh installs Microsoft's published TypeScript description of every
# Microsoft Graph v1.0 entity (interfaces User, Group, DirectoryObject,
# PasswordProfile, SignInActivity…, one .d.ts), pinned. The loopback Graph
# fake in connectors/entra/entratest parses it to validate every request body
# it receives and every entity it answers. Safe to run repeatedly.
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="$root/.ci/specs/entra"
pkg="@microsoft/microsoft-graph-types"
version="2.43.1"
dts="$prefix/node_modules/$pkg/microsoft-graph.d.ts"
if [ -f "$dts" ] && grep -q "\"version\": \"$version\"" "$prefix/node_modules/$pkg/package.json" 2>/dev/null; then
	echo "entra: $pkg@$version already installed"
	exit 0
fi
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$pkg@$version"
