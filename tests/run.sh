#!/usr/bin/env bash
# The whole test suite on a Debian machine that has only the .NET 10 SDK: installs what the tests need when it is
# missing (Debian packages, Node.js + npm and the OpenAI client's locked npm packages), then runs
# `dotnet test DetailFlow.Api.sln -c Release` with any extra arguments passed through ("$@").
# The parity tests also read the fixtures folder ../shared/fixtures/detailflow beside the repository.
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# libtorch runs on libgomp, whose idle threads spin by default; on a shared 2-core machine that starves the tests.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# apt-get as root, or through sudo when this runs as a user.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "tests/run.sh: root (or sudo) is needed to install: ${*: -1}" >&2; return 1; fi
}
apt_install() {
  echo "tests/run.sh: installing $*" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# System packages the tests use (Redis for the cache tests, chromium for the page tests, Fashion-MNIST for training,
# fontconfig for SkiaSharp). Idempotent: only missing ones are installed.
need=()
for pkg in redis-server chromium dataset-fashion-mnist libfontconfig1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# The OpenAI client tests run the official npm package under Node.js: Debian's nodejs + npm when no node is installed.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then need+=(nodejs npm); fi
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}" || echo "tests/run.sh: installing ${need[*]} failed; the tests that need them will fail" >&2; fi

# The lockfile's packages, when not installed from this lockfile yet (the npm registry is the only network this needs).
lock=tests/openai-node/package-lock.json installed=tests/openai-node/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ]; then
  (cd tests/openai-node && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "tests/run.sh: npm ci in tests/openai-node failed; OpenAiNodeClientTests will retry and report" >&2
fi

exec dotnet test DetailFlow.Api.sln -c Release "$@"
