#!/bin/sh
# entra.sh installs Microsoft's published descriptions of Microsoft Graph
# v1.0, pinned, for the loopback Graph fake in connectors/entra/entratest:
#   - @microsoft/microsoft-graph-types: the TypeScript interface of every
#     Graph entity (User, Group, DirectoryObject, PasswordProfile…), used to
#     validate every request body and response entity;
#   - @microsoft/msgraph-sdk-users: the Kiota-generated users API, generated
#     from Graph's OpenAPI description, whose URI templates and request
#     metadata give the /users paths, methods, query options and body types.
# Safe to run repeatedly.
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="$root/.ci/specs/entra"
types="@microsoft/microsoft-graph-types@2.43.1"
users="@microsoft/msgraph-sdk-users@1.0.0-preview.90"
installed() {
	# $1 = name@version
	name="${1%@*}"
	version="${1##*@}"
	grep -q "\"version\": \"$version\"" "$prefix/node_modules/$name/package.json" 2>/dev/null
}
if installed "$types" && installed "$users"; then
	echo "entra: $types and $users already installed"
	exit 0
fi
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$types" "$users"
