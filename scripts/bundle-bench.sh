#!/usr/bin/env bash
# Builds a self-contained bench:worker for a machine with Node-compatible x86-64 Linux but no
# registry access (e.g. a lent GPU host): the bundled code, the model and decode thread workers, a Node binary
# and the native modules it needs (onnxruntime-node's CPU/WebGPU build, sharp + libvips).
#   scripts/bundle-bench.sh .gpu
#   # there: xz -dc node.xz > node && chmod +x node && tar xJf nm.tar.xz
#   #        ./node vista.cjs --images 512 --batch-sizes 64,256 --provider webgpu --compare-model-thread
set -euo pipefail
out=${1:-.gpu}
cd "$(dirname "$0")/.."
mkdir -p "$out"
common=(--bundle --platform=node --target=node20 --format=cjs --external:onnxruntime-node --external:sharp --external:@lancedb/lancedb --log-level=warning)
npx esbuild bench/bundle-entry.ts "${common[@]}" --outfile="$out/vista.cjs"
npx esbuild lib/core/model/model-thread-worker.ts "${common[@]}" --outfile="$out/model-thread-worker.js"
npx esbuild lib/core/decode/decode-thread-worker.ts "${common[@]}" --outfile="$out/decode-thread-worker.js"
tar cf - node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist node_modules/onnxruntime-node/lib \
  node_modules/onnxruntime-node/bin/napi-v6/linux/x64 node_modules/onnxruntime-common node_modules/sharp \
  node_modules/@img/sharp-linux-x64 node_modules/@img/sharp-libvips-linux-x64 node_modules/@img/colour \
  node_modules/detect-libc node_modules/semver | xz -T0 -6 > "$out/nm.tar.xz"
xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"
ls -la "$out"
