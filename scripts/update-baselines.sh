#!/usr/bin/env bash
# Rewrites the committed contract baselines (services/Contracts/baseline/) from the current code: each service's
# OpenAPI document (openapi/), the compiled .proto descriptors (protos.binpb, with protos.json to read in review) and each
# integration event's JSON schema (events/). Review the diff of services/Contracts/baseline/ and commit it with the change that made it.
# A breaking change should not need this: publish a new version (/api/v2) beside the old one instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PORTICO_UPDATE_BASELINES=1
for project in Catalog Identity Ordering Weather; do
  dotnet build "tests/$project.Tests" -nologo -v q
  dotnet test --project "tests/$project.Tests" --no-build -- --filter-class '*OpenApiContractTests'
done
dotnet build tests/Contracts.Tests -nologo -v q
dotnet test --project tests/Contracts.Tests --no-build -- --filter-class '*ContractTests'
git status --short services/Contracts/baseline/
