#!/usr/bin/env bash
# The fault suite's reference: the suite's function (fault-echo, 3 replicas,
# deployed here once and reused by every e2e/5x-fault-*.sh) under the same
# load as every fault (wrk, 8 connections, POST, through the gateway's
# published port on 127.0.0.1), with no fault: nothing may fail. Starts a new
# $FX_ARTIFACTS/faults.txt (one line of figures per fault).
source "$FX_ROOT/tests/lib.sh"
source "$FX_ROOT/e2e/faults/lib.sh"

mkdir -p "$FX_ARTIFACTS" && : >"$FIGURES"
fault_platform
fault_fn
load_start none
load_wait
figures none 0
check "the load ran (over 100 requests)" test "$L_REQ" -gt 100
expect_eq "no request fails without a fault" 0 "$L_FAILED"
