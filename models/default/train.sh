#!/usr/bin/env bash
# Retrains the default model (models/default) from scratch on Fashion-MNIST (apt-get install -y dataset-fashion-mnist).
# Seed 0 everywhere (configs). Run from anywhere; run folders go to runs/default (git-ignored).
# OMP_WAIT_POLICY=PASSIVE + threads: 1 keep libtorch from spinning on a shared CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_WAIT_POLICY=PASSIVE
dotnet build src/DetailFlow.Cli -c Release -v q -nologo
detailflow() { dotnet src/DetailFlow.Cli/bin/Release/net10.0/detailflow.dll "$@"; }
TOK_STEPS=$(awk '/^steps:/{print $2}' models/default/train-tokenizer.yaml)
AR_STEPS=$(awk '/^steps:/{print $2}' models/default/train-ar.yaml)
TOK=runs/default/tokenizer/checkpoints/$(printf '%07d' "$TOK_STEPS").pt
GPT=runs/default/gpt/checkpoints/$(printf '%07d' "$AR_STEPS").pt
date -u +"start %FT%TZ"
detailflow train-tokenizer --config models/default/train-tokenizer.yaml
date -u +"tokenizer done %FT%TZ"
detailflow extract-codes   --config models/default/extract-codes.yaml --tokenizer "$TOK"
date -u +"codes done %FT%TZ"
detailflow train-ar        --config models/default/train-ar.yaml
date -u +"gpt done %FT%TZ"
detailflow convert --tokenizer "$TOK" --gpt "$GPT" --out models/default
date -u +"end %FT%TZ"
ls -l models/default/*.safetensors
