#!/bin/sh
# aws.sh installs AWS's published JSON service models (the v2 JavaScript SDK
# ships them as apis/*.min.json) for connectors/aws/awstest, which validates
# every Identity Store and SSO Admin request and response against them.
# Pinned; safe to run repeatedly.
set -eu
VERSION=2.1693.0
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="$ROOT/.ci/specs/aws"
PKG="$PREFIX/node_modules/aws-sdk"
if [ -f "$PKG/apis/identitystore-2020-06-15.min.json" ] && [ -f "$PKG/apis/sso-admin-2020-07-20.min.json" ] &&
	grep -q "\"version\": \"$VERSION\"" "$PKG/package.json" 2>/dev/null; then
	echo "aws.sh: aws-sdk@$VERSION already installed"
	exit 0
fi
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --ignore-scripts "aws-sdk@$VERSION"
