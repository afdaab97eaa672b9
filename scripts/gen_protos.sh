#!/usr/bin/env bash
# Regenerates the committed gRPC/protobuf code in protos/ from protos/*.proto.
# Run from anywhere; tests/test_protos_drift.py fails if the committed files differ from its output.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
python -m grpc_tools.protoc -I . --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" protos/*.proto
