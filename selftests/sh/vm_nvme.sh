# SPDX-License-Identifier: GPL-2.0
# vm_nvme.sh rvfio|upstream [msix|intx|iommufd]: the guest's nvme passed through to a KVM VM (QEMU inside
# the guest, qemu-test/guest/vm.sh) on that stack. The VM writes pseudo-random data with
# O_DIRECT at 4 KiB, 64 KiB, 1 MiB and 8 MiB, reads it back and compares, and counts its
# nvme interrupts: MSI-X, or with "intx" (the VM's kernel booted pci=nomsi) INTx, which QEMU
# routes through KVM's irqfd with a resample eventfd. QEMU must exit 0 with nothing from its
# VFIO code on stderr, and nothing may stay pinned. Then the nvme goes back to its driver,
# which must find the namespace and on it the data the VM wrote; with MSI-X a second VM run
# on the same device must pass as well (the device reusable). "iommufd" is the MSI-X run with
# QEMU's iommufd backend (-object iommufd: the nvme's cdev bound to /dev/iommu, its DMA mapped
# through an IOAS) instead of a VFIO container; it skips on a kernel without IOMMUFD.
. /guest/lib.sh
. /guest/vm.sh

stack=$1 mode=${2:-msix}
case $mode in
msix) append= vm_kind=MSIX host_kind=msix runs="1 2" ;;
intx) append=pci=nomsi vm_kind=IO-APIC host_kind=intx runs=1 ;;
iommufd)
	kconfig IOMMUFD || { echo "SKIP: no IOMMUFD in this kernel"; exit 4; }
	export VM_IOMMUFD=1
	append= vm_kind=MSIX host_kind=msix runs="1 2" ;;
*) fail "usage: vm_nvme.sh rvfio|upstream [msix|intx|iommufd]" ;;
esac
vm_setup "$stack"
nvme=$(bdf_of $NVME_ID) || fail "no nvme device"
[ "$(current_driver $nvme)" = nvme ] || fail "$nvme starts on $(current_driver $nvme), not nvme"

for run in $runs; do
	vm_own "$nvme"
	pins0=$(pinned_pages)
	vm_start run$run blk ${append:+-a "$append"} "$nvme"
	vm_wait run$run
	rc=$?
	vm_show run$run
	echo "# run $run: VM $(cat $VM_RUN/run$run/secs) s; in the VM: $(vm_result run$run irq-total | tr '\n' ' ');" \
		"the guest's VFIO IRQs: $(tr '\n' ' ' <$VM_RUN/run$run/host-irqs 2>/dev/null)"
	vm_check "run $run: QEMU exited 0 (got $rc)" [ $rc -eq 0 ]
	vm_check "run $run: every size written and read back equal in the VM" vm_blk_ok run$run
	vm_check "run $run: VM task done, its kernel log clean" vm_done_ok run$run
	vm_check "run $run: $vm_kind interrupts of the nvme in the VM ($(vm_irqs run$run $vm_kind))" \
		[ "$(vm_irqs run$run $vm_kind)" -gt 0 ]
	[ $mode != intx ] || vm_check "run $run: no MSI/MSI-X of the nvme in the VM" \
		[ "$(vm_irqs run$run MSIX)" -eq 0 -a "$(vm_irqs run$run MSI)" -eq 0 ]
	vm_check "run $run: the guest's VFIO $host_kind IRQs of $nvme fired ($(vm_host_irqs run$run $host_kind))" \
		[ "$(vm_host_irqs run$run $host_kind)" -gt 0 ]
	vm_check "run $run: no pinned pages left" pins_back_to "$pins0"
	vm_check "run $run: QEMU's stderr clean (no VFIO error or warning)" vm_stderr_clean run$run
	# Back on the nvme driver: the namespace is there, with the data the VM wrote.
	dev=$(vm_release "$nvme")
	vm_check "run $run: $nvme back on nvme, namespace ${dev:-missing}" [ -n "$dev" ]
	[ -z "$dev" ] || vm_check "run $run: the VM's data read back in the guest through its nvme driver" \
		$VM_BLK -d "$dev" -s "$(cat $VM_RUN/run$run/seed)" verify
done
vm_teardown || fail "tear-down"
vm_verdict
