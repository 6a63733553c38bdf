#!/usr/bin/env bash
# Encodes fuzz/seeds/frame/*.txtpb (refx.v1.Frame in text format, easy to
# read and edit) into the binary seeds fuzz_frame starts from,
# fuzz/corpus/frame/NAME.bin. Run after editing a seed or the wire schema.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in fuzz/seeds/frame/*.txtpb; do
  protoc -Iproto --encode=refx.v1.Frame proto/refx/v1/wire.proto <"$f" >"fuzz/corpus/frame/$(basename "$f" .txtpb).bin"
done
