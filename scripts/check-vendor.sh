#!/usr/bin/env bash
# Checks that vendor/temporalio-sdk-core is exactly the published temporalio-sdk-core 0.10.1
# crate plus vendor/temporalio-sdk-core.patch: cargo fetches the published .crate (reusing
# ~/.cargo/registry when it is already there, so it also works offline), the patch is applied to
# a temporary copy of it, and `diff -r` compares that with the vendored tree. Exits non-zero,
# listing the differing files, when they differ (or when the patch no longer applies).
set -euo pipefail
cd "$(dirname "$0")/.."

name=temporalio-sdk-core version=0.10.1
sha256=dd14cc934d07af36767c4bb63ad3e76f99809b32563ff5d02e1e8ab6d43dad33
vendored=vendor/$name patch=vendor/$name.patch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

find_crate() { compgen -G "${CARGO_HOME:-$HOME/.cargo}/registry/cache/*/$name-$version.crate" | head -n1 || true; }
crate=$(find_crate)
if [[ -z $crate ]]; then
  mkdir -p "$tmp/fetch/src" && touch "$tmp/fetch/src/lib.rs"
  printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n%s = "=%s"\n' \
    "$name" "$version" >"$tmp/fetch/Cargo.toml"
  cargo fetch --quiet --manifest-path "$tmp/fetch/Cargo.toml"
  crate=$(find_crate)
fi
echo "$sha256  $crate" | sha256sum --check --quiet

mkdir "$tmp/expected"
tar -xzf "$crate" -C "$tmp/expected" --strip-components=1
patch -p1 -F0 -s --no-backup-if-mismatch -d "$tmp/expected" <"$PWD/$patch" ||
  { echo "error: $patch does not apply to $name $version" >&2; exit 1; }

if ! differences=$(diff -rq "$tmp/expected" "$vendored" | sed "s|$tmp/expected|published+patch|g"); then
  echo "error: $vendored is not $name $version plus $patch:" >&2
  echo "$differences" >&2
  echo "If the change is intended, regenerate the patch (see vendor/README.md)." >&2
  exit 1
fi
echo "ok: $vendored = $name $version + $patch"
