# SPDX-License-Identifier: GPL-2.0
# err_irq.sh rvfio|upstream: c/err_irq_test on the guest's AER test device (virtio-rng with
# AER, QEMU id aer0) bound to vfio-pci on that stack, then the device back where it was.
. /guest/lib.sh
stack=$1
case $stack in rvfio | upstream) ;; *) fail "unknown stack '$stack'" ;; esac
aer=$(bdf_of $AER_ID) || fail "no AER test device ($AER_ID)"
driver=$(current_driver "$aer")
load_$stack
bind_driver "$aer" vfio-pci
RVFIO_AER_BDF=$aer RVFIO_STACK=$stack /tests/c/err_irq_test
rc=$?
unbind_driver "$aer"
[ "$driver" = none ] || echo "$aer" >/sys/bus/pci/drivers_probe
unload_$stack
exit $rc
