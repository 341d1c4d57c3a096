#!/usr/bin/env bash
# Installs the cloud storage emulators of the GCS and Azure tests (package.json + package-lock.json of this
# folder, versions pinned) into DEST with `npm ci`. The parent build starts it in the background at its very
# first step, so the download overlaps the Java build; the tests wait for DEST/.installed (or DEST/.failed,
# whose cause is in DEST/install.log). Already installed, or another build installing: does nothing.
# Usage: install.sh SOURCE_DIR DEST_DIR SKIP_TESTS MAVEN_TEST_SKIP
set -u
src="$1" dest="$2"
if [ "${3:-false}" = "true" ] || [ "${4:-false}" = "true" ]; then
  exit 0
fi
mkdir -p "$dest"
if [ -f "$dest/.installed" ] && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
  exit 0
fi
exec 9>"$dest/.lock"
flock -n 9 || exit 0
rm -f "$dest/.installed" "$dest/.failed"
touch "$dest/.installing"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
# no install scripts: nothing the emulators use needs one (firebase-tools' re2 would compile C++)
if (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) > "$dest/install.log" 2>&1; then
  touch "$dest/.installed"
else
  touch "$dest/.failed"
fi
rm -f "$dest/.installing"
