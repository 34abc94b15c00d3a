#!/usr/bin/env bash
# Front-end libraries for the hub, from npm at build time (never a CDN at run time: the
# hub runs on a closed network). Installs the exact versions of package-lock.json with
# `npm ci`, copies their browser builds and licence files into
# src/epitrace/hub/web/static/vendor/ (gitignored), and compiles the Korean messages.
# Run by `make demo` and `make test`; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

VENDOR=src/epitrace/hub/web/static/vendor
LOCALE=src/epitrace/hub/locale

if ! command -v npm >/dev/null 2>&1; then
  echo "vendor-frontend: npm is missing; installing Debian's nodejs and npm" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "vendor-frontend: run as root or install npm (Debian: apt-get install npm)" >&2
    exit 1
  fi
  apt-get update -qq && apt-get install -y -qq npm >/dev/null
fi

npm ci --no-audit --no-fund --loglevel=error

copy() {  # copy SOURCE DEST_DIR: one file into the vendor tree
  mkdir -p "$2"
  cp "$1" "$2/"
}

rm -rf "$VENDOR"
# MapLibre GL JS 6: ES modules only; the worker module must sit beside the main one.
for file in maplibre-gl.mjs maplibre-gl-worker.mjs maplibre-gl.css; do
  copy "node_modules/maplibre-gl/dist/$file" "$VENDOR/maplibre-gl"
done
copy node_modules/maplibre-gl/LICENSE.txt "$VENDOR/maplibre-gl"
# htmx 2.0 (the last major before the breaking 4.x).
copy node_modules/htmx.org/dist/htmx.min.js "$VENDOR/htmx"
copy node_modules/htmx.org/LICENSE "$VENDOR/htmx"
# The street basemap (docs/operations.md): the PMTiles reader and the Protomaps style, as
# their self-contained browser builds (their ES modules import fflate by bare name). The
# npm packages carry no licence file: epitrace keeps theirs in scripts/licences/.
copy node_modules/pmtiles/dist/pmtiles.js "$VENDOR/pmtiles"
copy scripts/licences/pmtiles.LICENSE "$VENDOR/pmtiles"
copy node_modules/fflate/LICENSE "$VENDOR/pmtiles"
mv "$VENDOR/pmtiles/LICENSE" "$VENDOR/pmtiles/LICENSE.fflate"
copy node_modules/@protomaps/basemaps/dist/basemaps.js "$VENDOR/protomaps-basemaps"
copy scripts/licences/protomaps-basemaps.LICENSE "$VENDOR/protomaps-basemaps"
# axe-core: for the accessibility check of the browser tests only; never linked by a page.
copy node_modules/axe-core/axe.min.js "$VENDOR/axe-core"
copy node_modules/axe-core/LICENSE "$VENDOR/axe-core"
# MapLibre bundles its npm dependencies into its modules: their licences go beside it.
for package in node_modules/*/ node_modules/@*/*/; do
  name=${package#node_modules/}
  name=${name%/}
  case "$name" in maplibre-gl | htmx.org | axe-core | pmtiles | fflate | "@*" | "@*/*") continue ;; esac
  for licence in "$package"LICENSE* "$package"LICENCE*; do
    [ -e "$licence" ] && cp "$licence" "$VENDOR/maplibre-gl/LICENSE.${name//\//__}"
  done
done

# The compiled Korean catalogue is committed (works without gettext); when msgfmt is
# here, rebuild it from the .po so the two never drift.
if command -v msgfmt >/dev/null 2>&1; then
  for po in "$LOCALE"/*/LC_MESSAGES/django.po; do
    msgfmt --check -o "${po%.po}.mo" "$po"
  done
fi
echo "vendor-frontend: $(find "$VENDOR" -type f | wc -l) files in $VENDOR"
