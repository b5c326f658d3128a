#!/bin/sh
# The container's entrypoint. SageMaker starts a hosting container as `docker run <image> serve`:
# that runs the inference server (`vista serve`: GET /ping, POST /invocations on port 8080; it
# reads VISTA_MODEL_URI and the rest of lib/core/serving/serving-env.ts). Anything else is run as
# given: the Dockerfile's CMD (`node bin/vista.js worker --from-env`, the Batch worker) or a job
# definition's command (`node bin/vista.js backfill index --from-env`, the Batch index job).
# `exec` keeps node as PID 1: it receives SIGTERM, and its exit code reaches Batch unchanged.
set -e
if [ "$1" = "serve" ]; then
  shift
  exec node bin/vista.js serve "$@"
fi
exec "$@"
