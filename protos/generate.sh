#!/bin/sh
# Generate the Python code of sparrow.v1 into protos/gen (never committed).
# Usage: protos/generate.sh [python]   (the python must have grpcio-tools installed)
set -eu
python="${1:-python3}"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$here/gen"
mkdir -p "$here/gen"
"$python" -m grpc_tools.protoc -I "$here" --python_out="$here/gen" --pyi_out="$here/gen" \
  --grpc_python_out="$here/gen" "$here"/sparrow/v1/*.proto
touch "$here/gen/sparrow/__init__.py" "$here/gen/sparrow/v1/__init__.py"
