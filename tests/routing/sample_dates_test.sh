#!/usr/bin/env bash
# The samples keep meeting their rules as the calendar moves on: the copies
# `deploy/refx.sh demo` submits (every date moved by today - the reference
# date of deploy/samples/README.md) are routed two years from today, on that
# day, and must open exactly the cases the README's table gives. The files
# as written, routed on that day, do not (05's MARAC would be over 12
# months old): that is what the moving is for.
#
# usage: sample_dates_test.sh SOURCE_DIR ROUTING_SAMPLES_TEST WORK_DIR
set -euo pipefail
src=$1 test_bin=$2 work=$3
ahead=$(date -u -d '+2 years' +%F)
"$src/deploy/refx.sh" samples --today "$ahead" "$work/samples"
REFX_SAMPLES_DIR=$work/samples REFX_SAMPLES_ROUTED_ON=$ahead exec "$test_bin" --gtest_brief=1
