#!/usr/bin/env bash
# Install the Node packages the tests run (the OpenID provider of tests/oidc/) into a cache folder,
# never into the repository. Exact versions from tests/oidc/package-lock.json (npm ci); does
# nothing when that lock file was installed already. Prints the folder that holds node_modules.
# Folder: $SMIMEHELPER_NODE_CACHE, else .cache/test-node in the repository (ignored by git).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dest="${SMIMEHELPER_NODE_CACHE:-$repo/.cache/test-node}/oidc"
src="$repo/tests/oidc"
mkdir -p "$dest"
stamp="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$dest/.installed" ] || [ "$(cat "$dest/.installed")" != "$stamp" ] || [ ! -d "$dest/node_modules/oidc-provider" ]; then
    cp "$src/package.json" "$src/package-lock.json" "$dest/"
    (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    echo "$stamp" > "$dest/.installed"
fi
echo "$dest"
