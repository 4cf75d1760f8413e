# SPDX-License-Identifier: GPL-2.0
# vm_lifecycle.sh rvfio|upstream: the life of KVM VMs with devices passed through (QEMU inside
# the guest, qemu-test/guest/vm.sh) on that stack:
#   reset    system_reset on the VM's monitor while the VM does O_DIRECT I/O to the nvme:
#            after the reboot the VM reads back what it wrote before, and checks anew
#   kill     QEMU SIGKILLed while the VM does O_DIRECT I/O: every pinned page is released
#            (FOLL_PIN counters of /proc/vmstat back where they were) and the device is fine
#   two      two VMs at the same time, each with its own group: the nvme (reused after the
#            kill) in one, the multifunction group's edu and nvme (both functions: the
#            group's devices go together) in the other
#   unplug   device_del of the passed-through nvme on the running VM's monitor: the VM sees it
#            go, QEMU keeps running (and drops the device), and exits 0 when the VM powers
#            off (on system_powerdown)
# QEMU's stderr must have no VFIO error or warning in every case but the kill; the devices
# end on their drivers (nvme with its namespace; edu on none).
. /guest/lib.sh
. /guest/vm.sh

vm_setup "$1"
nvme=$(bdf_of $NVME_ID) || fail "no nvme device"
mf_nvme=
for d in /sys/bus/pci/devices/*.1; do
	[ "$(cat $d/vendor):$(cat $d/device)" = "0x${NVME_ID%%:*}:0x${NVME_ID##*:}" ] && mf_nvme=${d##*/}
done
[ -n "$mf_nvme" ] || fail "no nvme at function 1 (multifunction device missing)"
mf_edu=${mf_nvme%.1}.0
[ "$(current_driver $nvme)" = nvme ] || fail "$nvme starts on $(current_driver $nvme), not nvme"
[ "$(current_driver $mf_nvme)" = nvme ] || fail "$mf_nvme starts on $(current_driver $mf_nvme), not nvme"

# Kernel memory QEMU's mm has locked (VmLck of its status, kB): what type1 charged.
vm_locked_kb() { awk '$1 == "VmLck:" { print $2 }' /proc/$(cat $VM_RUN/$1/pid)/status 2>/dev/null || echo 0; }

vm_own "$nvme"
pins0=$(pinned_pages)

echo "# ---- reset: system_reset during O_DIRECT I/O"
t0=$(date +%s)
vm_start reset reset -r "$nvme"
vm_wait_for reset 'ready-reset' 90 && vm_wait_for reset 'loop 8' 60
ready=$?
[ $ready -ne 0 ] || vm_monitor reset system_reset
[ $ready -ne 0 ] || vm_wait_for reset 'done' 90
vm_wait reset
rc=$?
vm_show reset
vm_check "reset: the VM was busy with I/O when reset" [ $ready -eq 0 ]
vm_check "reset: QEMU exited 0 (got $rc)" [ $rc -eq 0 ]
vm_check "reset: the VM booted twice ($(vm_result reset boot | wc -l))" [ "$(vm_result reset boot | wc -l)" -eq 2 ]
vm_check "reset: after the reset the VM read back the data of before" vm_blk_ok reset verify
vm_check "reset: after the reset the VM wrote and read back anew" \
	[ "$(vm_result reset blk-all | grep -c '^ok')" -eq 2 ]
vm_check "reset: VM task done, its kernel log clean" vm_done_ok reset
vm_check "reset: QEMU's stderr clean (no VFIO error or warning)" vm_stderr_clean reset
vm_check "reset: no pinned pages left" pins_back_to "$pins0"
echo "# reset: $(($(date +%s) - t0)) s"

echo "# ---- kill: QEMU SIGKILLed during O_DIRECT I/O"
t0=$(date +%s)
vm_start kill loop "$nvme"
vm_wait_for kill 'loop 8' 90
busy=$?
pinned=$(($(pinned_pages) - pins0)) locked=$(vm_locked_kb kill)
vm_kill kill
rc=$?
vm_show kill | tail -5
vm_check "kill: the VM was busy with I/O when killed" [ $busy -eq 0 ]
vm_check "kill: while it ran, its 256 MiB were pinned ($pinned pages) and charged (VmLck $locked kB)" \
	[ $pinned -ge 65536 -a "$locked" -ge 262144 ]
vm_check "kill: QEMU died of SIGKILL (exit $rc)" [ $rc -eq 137 ]
vm_check "kill: no pinned pages left ($pins0 before, $(pinned_pages) after)" pins_back_to "$pins0"
vm_check "kill: $nvme still on vfio-pci" [ "$(current_driver $nvme)" = vfio-pci ]
echo "# kill: $(($(date +%s) - t0)) s"

echo "# ---- two: two VMs at once, $nvme in one, $mf_edu + $mf_nvme in the other"
t0=$(date +%s)
vm_own "$mf_edu"
vm_own "$mf_nvme"
vm_start one blk "$nvme"
vm_start two blk "$mf_edu" "$mf_nvme"
vm_wait one
rc1=$?
vm_wait two
rc2=$?
vm_show one
vm_show two
for vm in one two; do
	[ $vm = one ] && rc=$rc1 || rc=$rc2
	vm_check "two/$vm: QEMU exited 0 (got $rc)" [ $rc -eq 0 ]
	vm_check "two/$vm: every size written and read back equal in the VM" vm_blk_ok $vm
	vm_check "two/$vm: VM task done, its kernel log clean" vm_done_ok $vm
	vm_check "two/$vm: MSI-X interrupts of its nvme ($(vm_irqs $vm MSIX))" [ "$(vm_irqs $vm MSIX)" -gt 0 ]
	vm_check "two/$vm: QEMU's stderr clean (no VFIO error or warning)" vm_stderr_clean $vm
done
vm_check "two/two: the VM has the edu beside its nvme" sh -c "tr -d '\r' <$VM_RUN/two/console.log | grep -q '^VMRESULT pci .* 1234:11e8 '"
vm_check "two: no pinned pages left" pins_back_to "$pins0"
echo "# two: $(($(date +%s) - t0)) s"

echo "# ---- unplug: device_del of the nvme from the running VM"
t0=$(date +%s)
vm_start unplug unplug "$nvme"
vm_wait_for unplug 'ready-unplug' 90
ready=$?
if [ $ready -eq 0 ]; then
	vm_monitor unplug 'device_del hostdev1'
	vm_wait_for unplug 'unplugged' 60
	gone=$?
	vm_wait_for unplug 'waiting-powerdown' 10
	running=1
	kill -0 "$(cat $VM_RUN/unplug/pid)" 2>/dev/null && running=0
	# QEMU's own view: the nvme gone from its PCI devices (it removes the device once the
	# VM has powered the slot off, just after the VM's own removal).
	t=0
	while vm_monitor unplug 'info pci' >$VM_RUN/unplug/info-pci 2>&1 &&
		grep -q '1b36:0010' $VM_RUN/unplug/info-pci && [ $t -lt 20 ]; do
		sleep 0.5
		t=$((t + 1))
	done
	grep -q 'Host bridge' $VM_RUN/unplug/info-pci && ! grep -q '1b36:0010' $VM_RUN/unplug/info-pci ||
		sed 's/^/# vm unplug: info pci: /' $VM_RUN/unplug/info-pci
	# The VM powers off on the power button.
	vm_monitor unplug system_powerdown
fi
vm_wait unplug
rc=$?
vm_show unplug
vm_check "unplug: the VM used the nvme before" [ $ready -eq 0 ]
vm_check "unplug: the VM saw the nvme go" [ "${gone:-1}" -eq 0 ]
vm_check "unplug: QEMU still running after the unplug" [ "${running:-1}" -eq 0 ]
vm_check "unplug: QEMU lists no NVMe device any more" \
	sh -c "grep -q 'Host bridge' $VM_RUN/unplug/info-pci && ! grep -q '1b36:0010' $VM_RUN/unplug/info-pci"
vm_check "unplug: QEMU exited 0 (got $rc)" [ $rc -eq 0 ]
vm_check "unplug: VM task done, its kernel log clean" vm_done_ok unplug
vm_check "unplug: QEMU's stderr clean (no VFIO error or warning)" vm_stderr_clean unplug
vm_check "unplug: no pinned pages left" pins_back_to "$pins0"
echo "# unplug: $(($(date +%s) - t0)) s"

# Every device back on its driver: nvme with its namespace, edu on none.
for bdf in $nvme $mf_nvme $mf_edu; do
	out=$(vm_release $bdf)
	rc=$?
	vm_check "$bdf back on its driver${out:+ ($out)}" [ $rc -eq 0 ]
done
vm_teardown || fail "tear-down"
vm_verdict
