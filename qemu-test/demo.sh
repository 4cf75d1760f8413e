#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The README's first command: set up everything this machine needs (cached), build the test
# kernel, the modules and the test programs, boot the guest and run the main job: a KVM VM
# using the guest's NVMe through rvfio (guest/demo.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVFIO_ROOT"

"$RVFIO_ROOT/qemu-test/setup.sh"
kbuild=$("$RVFIO_ROOT/qemu-test/build-kernel.sh" test)
make -s KDIR="$kbuild" modules
make -s -C selftests >/dev/null
# One vCPU and the VM payload (QEMU, the inner VM), as for the VM tests (run-tests.sh).
RVFIO_GUEST_CPUS=1 RVFIO_GUEST_VM=1 exec "$RVFIO_ROOT/qemu-test/run-guest.sh" -t 300 -o "$RVFIO_CACHE/demo" demo
