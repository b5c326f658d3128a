#!/usr/bin/env bash
# bench:worker on a lent GPU machine (the `device` tool), every figure printed with its target.
# Here (with registry access):   scripts/gpu-bench.sh .gpu
#   → builds the self-contained bundle (scripts/bundle-bench.sh: node, sharp, onnxruntime, the
#     model and decode thread scripts) plus .gpu/run.sh, which the GPU machine runs:
# There (no registry access):    cd .gpu && ./run.sh [extra bench flags]
#   WebGPU through Vulkan needs the Vulkan loader (libvulkan1): run.sh uses the system's, or one
#   unpacked next to it (libvulkan.so.1 in .gpu/vulkan/). Targets (issue 13):
#     end to end (ViT-B/32) ≥ 90% of min(decode on all vCPUs, model alone)
#     decode on all vCPUs   ≥ 70% of vCPUs × the one-thread decode rate
set -euo pipefail
out=${1:-.gpu}
cd "$(dirname "$0")/.."
scripts/bundle-bench.sh "$out"
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")"
[ -x node ] || { xz -dc node.xz > node && chmod +x node; }
[ -d node_modules ] || tar xJf nm.tar.xz
[ -d vulkan ] && export LD_LIBRARY_PATH="$PWD/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cores=$(nproc)
./node vista.cjs --images 494 --batch-sizes 64,256 --provider "${PROVIDER:-webgpu}" --window-seconds "${WINDOW_SECONDS:-10}" --repeats "${REPEATS:-3}" \
  --decode-threads "1,$((cores / 2)),$cores" "$@" > result.json
./node -e '
const r = JSON.parse(require("fs").readFileSync("result.json", "utf8"));
const cores = r.machine.cores;
const decode = r.decode_preprocess.median, model = r.model_vit_b_32.median, e2e = r.end_to_end_vit_b_32.median;
const one = r.decode_threads.images_per_second["1"].median;
const line = (name, value, target, ok) => console.log(`${ok ? "MET    " : "NOT MET"}  ${name}: ${value}  (target ${target})`);
console.log(`machine: ${cores} vCPUs, ${r.machine.cpu}, provider ${r.machine.provider}; windows ${r.method.window_seconds} s × ${r.method.repeats}; medians (min in result.json)`);
for (const [k, v] of Object.entries(r.decode_threads.images_per_second)) console.log(`decode, ${k} thread(s): ${v.median} images/s (min ${v.min})`);
console.log(`1 decode, all vCPUs: ${decode} · 2 model alone (batch ${r.method.model_batch_size}): ${model} · 3 end to end ViT-B/32: ${e2e} · 4 tiny: ${r.end_to_end_tiny.median} · 5 naive (${r.method.naive_images} images): ${r.naive_one_at_a_time_vit_b_32.median}`);
console.log(`main thread CPU per image (tiny, end to end): ${r.main_thread_cpu_ms_per_image.median} ms`);
const bound = Math.min(decode, model);
line("end to end / min(decode, model)", (e2e / bound).toFixed(3), "≥ 0.90", e2e >= 0.9 * bound);
line("decode / (vCPUs × one-thread rate)", (decode / (cores * one)).toFixed(3), "≥ 0.70", decode >= 0.7 * cores * one);
line("main thread ms per image", r.main_thread_cpu_ms_per_image.median, "≤ 0.3", r.main_thread_cpu_ms_per_image.median <= 0.3);
'
RUN
chmod +x "$out/run.sh"
echo "ready: copy $out to the GPU machine and run $out/run.sh there"
