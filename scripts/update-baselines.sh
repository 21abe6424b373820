#!/usr/bin/env bash
# Rewrites the committed contract baselines (services/Contracts/baseline/) from the current code: each service's
# OpenAPI document. Review the diff of services/Contracts/baseline/ and commit it with the change that made it.
# A breaking change should not need this: publish a new version (/api/v2) beside the old one instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PORTICO_UPDATE_BASELINES=1
for project in Catalog Identity Ordering Weather; do
  dotnet build "tests/$project.Tests" -nologo -v q
  dotnet test --project "tests/$project.Tests" --no-build -- --filter-class '*OpenApiContractTests'
done
git status --short services/Contracts/baseline/
