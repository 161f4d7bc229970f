#!/bin/sh
# Stands in for a test that this build could not build (a library or tool
# missing at configure time): prints why and exits 77, so that meson
# reports the test as skipped, by name, instead of not listing it.
echo "SKIP: $*"
exit 77
