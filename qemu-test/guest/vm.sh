# SPDX-License-Identifier: GPL-2.0
# Inner VMs for guest tests: a KVM guest started inside the test guest by the host's own QEMU
# (mkinitramfs.sh puts it, its libraries and firmware in the initramfs), with devices of the
# test guest passed through by VFIO. Sourced after lib.sh.
#
#   vm_start NAME TASK [-a KERNEL_ARGS] [-r] [-t SECS] [-s SEED] [-m MEM] BDF...
#       start a VM in the background (the caller's shell job; never in a subshell), each BDF
#       passed through behind its own PCIe root port (ids hostdev1, hostdev2, ... on ports
#       rp1, rp2, ...); TASK is what the inner init (qemu-test/vm/init) runs. -a: more inner
#       kernel command line (pci=nomsi); -r: let the VM reboot (no -no-reboot); -t: SIGKILL
#       QEMU after SECS (default $VM_TIMEOUT or 120); -s: the data seed (default random).
#       With VM_IOMMUFD=1 QEMU uses iommufd (-object iommufd: each device's cdev bound to
#       /dev/iommu) instead of a VFIO container.
#   vm_wait NAME               wait for QEMU to exit; its exit status (137: killed)
#   vm_wait_for NAME REGEX [SECS]   wait for a console line "VMRESULT <REGEX>"; 1 if QEMU
#                              exited or SECS (default 60) passed first
#   vm_result NAME KEY         the rest of each console line "VMRESULT KEY ..."
#   vm_monitor NAME COMMAND    run an HMP command on the VM's monitor; prints the answer
#   vm_kill NAME               SIGKILL the VM's QEMU (and reap it)
#   vm_show NAME               the VM's console and QEMU's stderr, prefixed, for the log
#   vm_cleanup                 SIGKILL every VM still running (an EXIT trap for tests)
# and below: checks on a finished VM (vm_check, vm_blk_ok, vm_irqs, vm_stderr_clean, ...),
# pinned-page counts, and a test's set-up and tear-down (vm_setup, vm_own, vm_teardown).
#
# Everything of VM NAME is in $VM_RUN/NAME: console.log (the inner serial console),
# stderr.log (QEMU's), monitor.sock, pid, seed, rc, secs, host-irqs.
VM_ROOT=/vm
VM_FW=$VM_ROOT/fw
VM_QEMU=/usr/bin/qemu-system-x86_64
VM_RUN=${VM_RUN:-/tmp/vm}
VM_MON=/tests/vm/vm_monitor
VM_BLK=/tests/vm/vm_blk_check

# A fresh seed for a VM's data.
vm_seed() { od -An -N4 -tu4 /dev/urandom | tr -d ' \n'; }

vm_start() {
	local OPTIND=1 opt name=$1 task=$2 append= reboot=-no-reboot limit=${VM_TIMEOUT:-120}
	local seed= mem=${VM_MEM:-256M} d devs= i=0 bdf
	shift 2
	while getopts a:rt:s:m: opt; do
		case $opt in
		a) append=$OPTARG ;;
		r) reboot= ;;
		t) limit=$OPTARG ;;
		s) seed=$OPTARG ;;
		m) mem=$OPTARG ;;
		*) fail "vm_start: bad option" ;;
		esac
	done
	shift $((OPTIND - 1))
	[ -x $VM_QEMU ] || fail "no $VM_QEMU in the guest (mkinitramfs.sh)"
	[ -e /dev/kvm ] || fail "no /dev/kvm"
	d=$VM_RUN/$name
	rm -rf "$d"
	mkdir -p "$d"
	[ -n "$seed" ] || seed=$(vm_seed)
	echo "$seed" >"$d/seed"
	[ -z "$VM_IOMMUFD" ] || devs="-object iommufd,id=iommufd0"
	for bdf; do
		i=$((i + 1))
		devs="$devs -device pcie-root-port,id=rp$i,chassis=$i,bus=pcie.0,addr=$(printf 0x%x $((i + 1)))"
		devs="$devs -device vfio-pci,host=$bdf,id=hostdev$i,bus=rp$i${VM_IOMMUFD:+,iommufd=iommufd0}"
	done
	echo "# vm $name: task $task, seed $seed, devices: $*${append:+, kernel: $append}${VM_IOMMUFD:+, through iommufd}"
	# Native PCIe hot-plug on the VM's root ports (pciehp, built in), not ACPI's (not built).
	# no_timer_check: the inner kernel's IO-APIC timer check can miss its ticks under nested
	# virtualisation on TCG and panic at boot ("IO-APIC + timer doesn't work", seen once in
	# vm_lifecycle's reset), as it is switched off for KVM guests generally.
	# busybox timeout execs QEMU in this very process ($!) and SIGKILLs it after $limit s.
	timeout -s KILL "$limit" $VM_QEMU -L $VM_FW -machine q35 -accel kvm -cpu host -smp 1 \
		-m "$mem" -nodefaults -display none $reboot \
		-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off \
		-monitor "unix:$d/monitor.sock,server=on,wait=off" -serial "file:$d/console.log" \
		$devs -kernel $VM_ROOT/bzImage -initrd $VM_ROOT/initramfs.cpio \
		-append "console=ttyS0 panic=-1 oops=panic loglevel=4 no_timer_check vm_task=$task vm_seed=$seed $append" \
		</dev/null >"$d/stdout.log" 2>"$d/stderr.log" &
	echo $! >"$d/pid"
	date +%s >"$d/start"
	echo "$limit" >"$d/limit"
	# The test guest's interrupt counts of the passed devices, sampled while the VM runs.
	vm_sample_irqs "$d" $(cat "$d/pid") "$@" &
	echo $! >"$d/sampler"
}

# vm_sample_irqs DIR QEMU_PID BDF...: every 0.5 s while QEMU_PID lives, the VFIO IRQ lines
# of the BDFs in /proc/interrupts, summed over vectors and CPUs per kind (intx, msi, msix):
# DIR/host-irqs keeps the highest count seen of each kind ("KIND COUNT" lines). VFIO frees
# the IRQs when QEMU closes the device, and the firmware's INTx gives way to MSI-X later.
vm_sample_irqs() {
	local d=$1 pid=$2 pat
	shift 2
	pat=$(echo "$*" | sed 's/ /|/g')
	: >"$d/host-irqs"
	while kill -0 "$pid" 2>/dev/null; do
		awk -v pat="\\\\((${pat})\\\\)" '
			NR == 1 { ncpu = NF; next }
			{
				for (f = ncpu + 2; f <= NF; f++) {
					k = $f; sub(/,$/, "", k)
					if (k !~ /^vfio-/ || k !~ pat) continue
					sub(/^vfio-/, "", k); sub(/[[(].*/, "", k)
					for (i = 2; i <= ncpu + 1; i++) c[k] += $i
					break
				}
			}
			END { for (k in c) print k, c[k] }' /proc/interrupts | cat - "$d/host-irqs" |
			awk '$2 > m[$1] { m[$1] = $2 } END { for (k in m) print k, m[k] }' >"$d/host-irqs.new"
		mv "$d/host-irqs.new" "$d/host-irqs"
		sleep 0.5
	done
}

# vm_stuck NAME PID: QEMU outlived its SIGKILL (vm_start's limit): it is stuck in the
# kernel, which no test allows. Shows where each of its threads is, and the guest's blocked
# tasks (sysrq w, in the kernel log), once.
vm_stuck() {
	local t
	echo "# vm $1: QEMU ($2) still there 30 s after its time limit's SIGKILL: stuck in the kernel"
	for t in /proc/$2/task/*; do
		echo "# vm $1: thread ${t##*/} ($(cat $t/comm 2>/dev/null)) in $(cat $t/wchan 2>/dev/null):"
		sed "s/^/# vm $1:   /" $t/stack 2>/dev/null
	done
	echo w >/proc/sysrq-trigger 2>/dev/null
}

vm_wait() {
	local d=$VM_RUN/$1 rc pid watchdog
	pid=$(cat "$d/pid")
	(
		sleep $(($(cat "$d/limit") + 30))
		! kill -0 "$pid" 2>/dev/null || vm_stuck "$1" "$pid"
	) &
	watchdog=$!
	wait "$pid"
	rc=$?
	kill "$watchdog" 2>/dev/null
	wait "$(cat "$d/sampler")" 2>/dev/null
	echo $rc >"$d/rc"
	echo $(($(date +%s) - $(cat "$d/start"))) >"$d/secs"
	echo "# vm $1: QEMU exited with $rc after $(cat "$d/secs") s"
	return $rc
}

vm_wait_for() {
	local d=$VM_RUN/$1 re=$2 limit=${3:-60} t=0
	while ! tr -d '\r' 2>/dev/null <"$d/console.log" | grep -E -q "^VMRESULT $re"; do
		kill -0 "$(cat "$d/pid")" 2>/dev/null || {
			tr -d '\r' 2>/dev/null <"$d/console.log" | grep -E -q "^VMRESULT $re" && return 0
			echo "# vm $1: QEMU exited before 'VMRESULT $re'"
			return 1
		}
		[ $t -lt $((limit * 5)) ] || { echo "# vm $1: no 'VMRESULT $re' within ${limit}s"; return 1; }
		sleep 0.2
		t=$((t + 1))
	done
}

vm_result() { tr -d '\r' 2>/dev/null <"$VM_RUN/$1/console.log" | sed -n "s/^VMRESULT $2 //p"; }

vm_monitor() { $VM_MON "$VM_RUN/$1/monitor.sock" "$2"; }

vm_kill() {
	local d=$VM_RUN/$1
	kill -9 "$(cat "$d/pid")" 2>/dev/null
	vm_wait "$1"
}

vm_show() {
	local d=$VM_RUN/$1
	tr -d '\r' 2>/dev/null <"$d/console.log" | sed "s/^/# vm $1 console: /"
	sed "s/^/# vm $1 qemu stderr: /" "$d/stderr.log" 2>/dev/null
	[ ! -s "$d/host-irqs" ] || echo "# vm $1: the guest's VFIO IRQs of its devices, most seen: $(tr '\n' ' ' <"$d/host-irqs")"
}

vm_cleanup() {
	local d
	for d in "$VM_RUN"/*/pid; do
		[ -f "$d" ] || continue
		kill -9 "$(cat "$d")" 2>/dev/null && wait "$(cat "$d")" 2>/dev/null
	done
	return 0
}

# --- checks on a finished VM. Each prints "ok - WHAT" or "FAIL - WHAT" and counts failures
# in $VM_FAILS, so that a test reports every check before it fails (vm_verdict).
VM_FAILS=0
vm_check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok - $what"
	else
		echo "FAIL - $what"
		VM_FAILS=$((VM_FAILS + 1))
	fi
}

vm_verdict() {
	[ "$VM_FAILS" -eq 0 ] || fail "$VM_FAILS check(s) failed"
	return 0
}

# vm_blk_ok NAME [KEY]: the VM compared every size equal (KEY blk: the check, verify: a
# read-back of earlier data), the kernel log clean and the task done with 0.
vm_blk_ok() {
	local key=${2:-blk} size
	for size in 4096 65536 1048576 8388608; do
		vm_result "$1" "$key" | grep -q "^$size ok" || return 1
	done
	vm_result "$1" "$key-all" | grep -q '^ok' || return 1
}
vm_done_ok() {
	vm_result "$1" dmesg | grep -qx clean && ! vm_result "$1" dmesg | grep -vqx clean &&
		vm_result "$1" done | grep -q '^0 '
}

# vm_irqs NAME KIND: the VM's total of nvme interrupts of KIND (MSIX, MSI, IO-APIC), last
# report; 0 if none.
vm_irqs() { vm_result "$1" irq-total | awk -v k="$2" '$1 == k { n = $2 } END { print n + 0 }'; }

# vm_host_irqs NAME KIND: the test guest's own count of the VFIO interrupts (intx, msi,
# msix) of the VM's devices, last sample; 0 if none.
vm_host_irqs() { awk -v k="$2" '$1 == k { n = $2 } END { print n + 0 }' "$VM_RUN/$1/host-irqs" 2>/dev/null || echo 0; }

# vm_stderr_clean NAME: QEMU printed no error or warning, and nothing from its VFIO code.
# With VM_IOMMUFD, but for QEMU's notice that it cannot map the device's BAR mmaps for
# peer-to-peer DMA: iommufd refuses VM_PFNMAP memory (-EFAULT; the DMA-buf path replaces it)
# on either stack, and QEMU then goes on without peer-to-peer (vfio_container_dma_map()).
VM_IOMMUFD_P2P='IOMMU_IOAS_MAP failed: Bad address, PCI BAR\?|vfio_container_dma_map\(0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+\) = -14 \(Bad address\)|PCI peer-to-peer transactions on BARs are not supported'
vm_stderr_clean() {
	! grep -v -E "${VM_IOMMUFD:+$VM_IOMMUFD_P2P}${VM_IOMMUFD:-^\$^}" "$VM_RUN/$1/stderr.log" |
		grep -i -E 'vfio|error|warning|fail' >/dev/null
}

# Pages pinned by FOLL_PIN (pin_user_pages: VFIO's type1 DMA mappings, O_DIRECT) now, system
# wide. As pinned_pages() of selftests/include/vfio_test_util.h: the per-CPU deltas folded
# first (stat_refresh), then the releases read before the acquisitions.
pinned_pages() {
	local rel
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null
	rel=$(awk '$1 == "nr_foll_pin_released" { print $2 }' /proc/vmstat)
	awk -v r="$rel" '$1 == "nr_foll_pin_acquired" { print $2 - r }' /proc/vmstat
}

# pins_back_to COUNT: the pinned-page count is COUNT again within 5 s (transient pins by
# others, O_DIRECT, come and go).
pins_back_to() {
	local t=0
	while [ "$(pinned_pages)" -ne "$1" ] && [ $t -lt 25 ]; do
		sleep 0.2
		t=$((t + 1))
	done
	[ "$(pinned_pages)" -eq "$1" ]
}

# nvme_blockdev BDF: the test guest's block device of the namespace of the nvme at BDF
# (waits up to 10 s for its driver to scan it).
nvme_blockdev() {
	local t=0 c b
	while [ $t -lt 100 ]; do
		for c in /sys/bus/pci/devices/$1/nvme/nvme*; do
			for b in "$c"/nvme*n1; do
				[ -e "$b" ] || continue
				b=${b##*/}
				# With NVMe multipath (Debian's kernel) the controller's namespace is
				# the hidden path nvmeScCnN; the block device is its head, nvmeSnN.
				case $b in nvme*c*n*) b=${b%%c*}n${b##*n} ;; esac
				[ -b "/dev/$b" ] && { echo "/dev/$b"; return 0; }
			done
		done
		sleep 0.1
		t=$((t + 1))
	done
	return 1
}

# --- a test's set-up and tear-down.
# vm_setup STACK: load that VFIO stack (rvfio or upstream); at exit, however the test ends,
# every VM is killed, the devices taken by vm_own go back to their drivers and the stack is
# unloaded (vm_teardown, also to be called at the end of the test itself).
VM_STACK= VM_OWNED=
vm_setup() {
	case $1 in
	rvfio | upstream) load_$1 ;;
	*) fail "stack must be rvfio or upstream, not '$1'" ;;
	esac
	VM_STACK=$1
	trap 'vm_teardown >/dev/null 2>&1' EXIT
}

# vm_own BDF: bind BDF to vfio-pci, remembering its driver for vm_teardown.
vm_own() {
	case " $VM_OWNED " in
	*" $1="*) ;;
	*) VM_OWNED="$VM_OWNED $1=$(current_driver "$1")" ;;
	esac
	[ "$(current_driver "$1")" = vfio-pci ] || bind_driver "$1" vfio-pci
}

# vm_release BDF: BDF back on the driver it had before vm_own (an nvme's namespace seen
# again: prints its block device); 1 if that did not work.
vm_release() {
	local e drv=
	for e in $VM_OWNED; do [ "${e%%=*}" = "$1" ] && drv=${e#*=}; done
	[ -n "$drv" ] || return 1
	if [ "$drv" = none ]; then
		[ ! -e /sys/bus/pci/devices/$1/driver ] || echo "$1" >/sys/bus/pci/devices/$1/driver/unbind
		echo >/sys/bus/pci/devices/$1/driver_override
		[ "$(current_driver "$1")" = none ]
		return
	fi
	if [ "$(current_driver "$1")" != "$drv" ]; then
		[ ! -e /sys/bus/pci/devices/$1/driver ] || echo "$1" >/sys/bus/pci/devices/$1/driver/unbind
		echo "$drv" >/sys/bus/pci/devices/$1/driver_override
		echo "$1" >/sys/bus/pci/drivers_probe
	fi
	echo >/sys/bus/pci/devices/$1/driver_override
	[ "$(current_driver "$1")" = "$drv" ] || return 1
	[ "$drv" != nvme ] || nvme_blockdev "$1"
}

# vm_teardown: kill the VMs, give back the devices, unload the stack. 1 if any failed.
vm_teardown() {
	local e rc=0
	vm_cleanup
	for e in $VM_OWNED; do
		vm_release "${e%%=*}" >/dev/null || { echo "FAIL - ${e%%=*} not back on ${e#*=}"; rc=1; }
	done
	VM_OWNED=
	if [ -n "$VM_STACK" ]; then
		unload_$VM_STACK || rc=1
		VM_STACK=
	fi
	return $rc
}
