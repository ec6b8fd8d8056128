#!/usr/bin/env bash
# The project's test command (README.md): installs the real third-party test
# peers the suite starts itself (Debian's slapd for LDAP), then vets and runs
# every test with the race detector. CI's .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f .ci/install-deps.sh ]; then
  bash .ci/install-deps.sh
fi

go vet ./...
go test -race -count=1 -timeout 20m ./...
