#!/usr/bin/env bash
# Builds and runs every test. This is the command CI runs (.ci/run) and the README's test command.
# The hashing tests run again with the runtime's ISA switches so that the 256-bit, 128-bit and scalar paths are
# each exercised as the only path a process has (on .NET 10 these are the switches that take effect;
# DOTNET_EnableAVX512F=0 switches nothing off).
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# What the tests need from Debian: a PostgreSQL server binary (tests initdb their own throwaway server), the
# Fashion-MNIST idx files for the quality tests, and Python grpcio with its code generator for the interop test
# (a real non-.NET gRPC client) with NumPy, pytest and venv for the Python client's tests, the reference Prometheus text parser for the /metrics test, headless chromium for
# the dashboard test, and docker-compose and a YAML parser for the deployment files' test. Installed only when missing.
need=()
[ -x /usr/lib/postgresql/15/bin/pg_ctl ] || command -v pg_ctl >/dev/null 2>&1 || need+=(postgresql)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
/usr/bin/python3 -c 'import grpc, grpc_tools.protoc' >/dev/null 2>&1 || need+=(python3-grpcio python3-grpc-tools python3-protobuf)
/usr/bin/python3 -c 'import numpy, pytest, ensurepip' >/dev/null 2>&1 || need+=(python3-numpy python3-pytest python3-venv)
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || need+=(python3-prometheus-client)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

echo "== formatting (dotnet format --verify-no-changes)"
dotnet format LshCluster.sln --verify-no-changes

echo "== build (Release, warnings as errors)"
dotnet build LshCluster.sln -c Release

echo "== all tests but the cluster's"
# Detailed verbosity so that the quality tests' recall, precision and edge recall appear in the CI log.
dotnet test LshCluster.sln -c Release --no-build --logger "console;verbosity=detailed" \
  --filter "FullyQualifiedName!~LshCluster.IntegrationTests"

echo "== cluster tests (silo processes, PostgreSQL, faults, Python grpcio)"
# On their own: they judge leases and takeovers by the clock, so they should not share two cores with the rest.
dotnet test tests/LshCluster.IntegrationTests -c Release --no-build --logger "console;verbosity=detailed"

echo "== Python client (clients/python: installed offline into a virtual environment, pytest against lshc serve and silos)"
# A fresh environment on Debian's packages, the package installed as a user installs it (no index, no build isolation);
# pytest runs from the repository's root, so that it imports the installed package, not the source folder.
venv=clients/python/.venv
rm -rf "$venv" clients/python/build clients/python/lshcluster.egg-info
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --no-index --no-build-isolation ./clients/python
"$venv/bin/python" -m pytest -p no:cacheprovider -v clients/python/tests

hashing_filter='FullyQualifiedName~LshCluster.Core.Tests.Hashing|FullyQualifiedName~LshCluster.Core.Tests.Kernels'
for switch in DOTNET_EnableAVX512=0 DOTNET_EnableAVX2=0 DOTNET_EnableHWIntrinsic=0; do
  echo "== hashing tests with ${switch}"
  env "${switch}" dotnet test tests/LshCluster.Core.Tests -c Release --no-build --filter "${hashing_filter}"
done

echo "== all tests passed"
