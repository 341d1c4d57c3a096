#!/usr/bin/env bash
# Installs the cloud storage emulators of the GCS and Azure tests (package.json + package-lock.json of this
# folder, versions pinned) with `npm ci`, once per machine and lock file: into a cache folder named by the
# lock file's hash (FAKE_TIKV_EMULATOR_CACHE, default ~/.cache/fake-tikv/emulators), like ~/.m2 for Maven,
# and links DEST/node_modules to it. The parent build starts it in the background at its very first step, so
# a first install overlaps the Java build; the tests wait for DEST/.installed (or DEST/.failed, whose cause
# is in DEST/install.log). Already installed, or another build installing into DEST: does nothing; another
# build installing into the same cache: waits for it.
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
hash=$(sha256sum "$src/package-lock.json" | cut -c1-16)
cache="${FAKE_TIKV_EMULATOR_CACHE:-$HOME/.cache/fake-tikv/emulators}/$hash"
mkdir -p "$cache"
(
  exec 8>"$cache/.lock"
  flock 8
  if [ ! -f "$cache/.installed" ]; then
    rm -rf "$cache/node_modules"
    cp "$src/package.json" "$src/package-lock.json" "$cache/"
    # no install scripts: nothing the emulators use needs one (firebase-tools' re2 would compile C++)
    if (cd "$cache" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) > "$cache/install.log" 2>&1; then
      touch "$cache/.installed"
    fi
  fi
)
if [ -f "$cache/.installed" ]; then
  rm -rf "$dest/node_modules"
  ln -s "$cache/node_modules" "$dest/node_modules"
  echo "emulators from $cache" > "$dest/install.log"
  touch "$dest/.installed"
else
  cp "$cache/install.log" "$dest/install.log" 2>/dev/null
  touch "$dest/.failed"
fi
rm -f "$dest/.installing"
