# SPDX-License-Identifier: GPL-2.0
# Guest side of the benchmarks: both VFIO stacks in this one boot, interleaved
# (upstream, rvfio, rvfio, upstream, ...) so that slow phases of the emulated machine hit
# both alike. Every run of /tests/bench/vfio_bench reports its lines on the results port as
#   RESULT <stack> <run> <metric> <value> <unit> <higher|lower>
# and the host (qemu-test/bench-report.py) makes the table.
#
# Kernel command line: rvfio_bench_runs=N (runs per stack, default 3),
# rvfio_bench_args="..." (passed to vfio_bench, e.g. --quick), rvfio_bench_small_max=N,
# rvfio_bench_hugepages=N (2 MiB pages to reserve, default 600), rvfio_bench_profile=1 (profile the kernel side of every run, printed on the console),
# rvfio_bench_callers=FUNCTION (with the profile: who calls FUNCTION),
# rvfio_bench_vm_sizes="1G 3G" and rvfio_bench_vm_mems="4k 4kprealloc thp hugetlb" (the VM
# start/stop runs; rvfio_bench_vm_sizes=none skips them), rvfio_bench_vfio=0 (no
# vfio_bench runs: a boot for the VM runs only, which want one vCPU, run-tests.sh),
# rvfio_bench_stacks="upstream rvfio iommufd baseline" (the stacks, default "upstream rvfio",
# and iommufd where the kernel has it; baseline: an older build of ours, bench.sh's
# RVFIO_BENCH_BASELINE). The iommufd stack is upstream's modules with the device bound to
# /dev/iommu through its cdev: vfio_bench --iommufd (IOMMU_IOAS_MAP/UNMAP), and QEMU's iommufd
# backend for the VMs.
. /guest/lib.sh

runs=${rvfio_bench_runs:-3}
default_stacks="upstream rvfio"
kconfig IOMMUFD && default_stacks="$default_stacks iommufd"
stacks=${rvfio_bench_stacks:-$default_stacks}
load_iommufd() { load_upstream; }
unload_iommufd() { unload_upstream; }
# stack_order RUN: the stacks in the order of run RUN, rotated by one each run (for two
# stacks: ABBA, upstream first on odd runs), so that slow phases hit every stack alike.
stack_order() {
	local n i=0 s
	n=$(echo $stacks | wc -w)
	for s in $stacks $stacks; do
		i=$((i + 1))
		[ $i -gt $((($1 - 1) % n)) ] && [ $i -le $((($1 - 1) % n + n)) ] && echo "$s"
	done
}
small_max=${rvfio_bench_small_max:-1000000}
args="${rvfio_bench_args:-} --small-max $small_max"
# Room for the small-mapping runs; the same limit on both stacks.
export RVFIO_DMA_ENTRY_LIMIT=$((small_max + 1000))

# Where the RESULT lines go: the results port, or a file (the suite's bench_smoke test).
results=${RVFIO_BENCH_RESULTS:-/dev/fd/3}

# 2 MiB hugetlb pages for 1 GiB of hugetlb2m mapping and the 32 MiB small2m pool, reserved
# while memory is unfragmented (rvfio_bench_hugepages: fewer for --quick). Both settings are
# restored at the end.
hugepages=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
thp=/sys/kernel/mm/transparent_hugepage/enabled
saved_hugepages=$(cat $hugepages)
saved_thp=$(sed 's/.*\[\(.*\)\].*/\1/' $thp)
echo "${rvfio_bench_hugepages:-600}" > $hugepages
echo always > $thp
echo "bench: $(cat $hugepages) 2M pages," \
	"$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 2>/dev/null || echo 0) 1G pages;" \
	"THP: $(cat $thp)"

edu=$(bdf_of $EDU_ID) || fail "no edu device"
ivshmem=$(bdf_of $IVSHMEM_ID) || fail "no ivshmem device"
export RVFIO_EDU_BDF=$edu RVFIO_IVSHMEM_BDF=$ivshmem

# bench_run STACK RUN: one vfio_bench run on STACK.
bench_run() {
	local stack=$1 run=$2 rc args=$args
	[ "$stack" = iommufd ] && args="$args --iommufd"
	echo "== run $run on $stack: vfio_bench $args"
	load_$stack
	bind_driver "$edu" vfio-pci
	bind_driver "$ivshmem" vfio-pci
	# rvfio_bench_profile=1: kernel profile of each run on the console (bench/kprof.c).
	${rvfio_bench_profile:+/tests/bench/kprof -n 40 ${rvfio_bench_callers:+-c $rvfio_bench_callers} --} /tests/bench/vfio_bench $args >/tmp/bench.out
	rc=$?
	unbind_driver "$edu"
	unbind_driver "$ivshmem"
	unload_$stack
	cat /tmp/bench.out
	[ $rc -eq 0 ] || { echo "bench: vfio_bench failed on $stack (exit $rc)"; return 1; }
	sed -n "s/^BENCH /RESULT $stack $run /p" /tmp/bench.out >>"$results"
}

# --- VM start and stop with a passed-through device (bench/vm_bench.c): a KVM VM with the
# nvme, its memory of SIZE backed by MEM: 4k (4 KiB pages, faulted in by MAP_DMA's
# pinning), 4kprealloc (the same, touched by QEMU first: -mem-prealloc), thp (transparent
# huge pages), hugetlb (2 MiB hugetlbfs pages, -mem-path). First, while memory is
# unfragmented enough for the hugetlb VMs' pages.
vm_sizes=${rvfio_bench_vm_sizes:-1G 3G}
vm_mems=${rvfio_bench_vm_mems:-4k 4kprealloc thp hugetlb}
nvme=$(bdf_of $NVME_ID) || fail "no nvme device"

# vm_run STACK RUN: every VM configuration once on STACK.
vm_run() {
	local stack=$1 run=$2 size mem memargs rc=0 iommufd_obj= iommufd_opt=
	if [ "$stack" = iommufd ]; then
		iommufd_obj="-object iommufd,id=iommufd0" iommufd_opt=,iommufd=iommufd0
	fi
	load_$stack
	bind_driver "$nvme" vfio-pci
	for size in $vm_sizes; do
		for mem in $vm_mems; do
			memargs=
			case $mem in
			4k) echo never >$thp ;;
			4kprealloc) echo never >$thp; memargs=-mem-prealloc ;;
			thp) echo always >$thp ;;
			hugetlb) memargs="-mem-path /dev/hugepages" ;;
			*) fail "unknown VM memory '$mem'" ;;
			esac
			echo "== run $run on $stack: VM of $size, $mem"
			/tests/bench/vm_bench "${mem}_$size" -- /usr/bin/qemu-system-x86_64 -L /vm/fw \
				-machine q35 -accel kvm -cpu host -smp 1 -m "$size" $memargs \
				-nodefaults -display none -no-reboot -serial stdio $iommufd_obj \
				-device pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=0x2 \
				-device vfio-pci,host="$nvme",bus=rp1$iommufd_opt \
				-kernel /vm/bzImage -initrd /vm/initramfs.cpio \
				-append "console=ttyS0 panic=-1 loglevel=5 no_timer_check vm_task=probe" >/tmp/vm-bench.out ||
				{ echo "bench: vm_bench failed on $stack ($size, $mem)"; rc=1; }
			cat /tmp/vm-bench.out
			sed -n "s/^BENCH /RESULT $stack $run /p" /tmp/vm-bench.out >>"$results"
		done
	done
	unbind_driver "$nvme"
	bind_driver "$nvme" nvme
	echo >/sys/bus/pci/devices/$nvme/driver_override
	unload_$stack
	return $rc
}

dmesg -c >/dev/null
status=0
if [ "$vm_sizes" != none ]; then
	# hugetlb pages for the largest VM, 2 MiB each.
	case " $vm_mems " in
	*" hugetlb "*)
		largest=$(for s in $vm_sizes; do echo "${s%G}"; done | sort -n | tail -1)
		echo $((largest * 512)) >$hugepages
		;;
	esac
	echo "bench: VMs of $vm_sizes ($vm_mems); $(cat $hugepages) 2M pages for them"
	for run in $(seq 1 "$runs"); do
		for stack in $(stack_order $run); do
			vm_run $stack $run || status=1
		done
	done
	echo "${rvfio_bench_hugepages:-600}" >$hugepages
	echo always >$thp
fi
[ "${rvfio_bench_vfio:-1}" = 0 ] && runs=0
for run in $(seq 1 "$runs"); do
	for stack in $(stack_order $run); do
		bench_run $stack $run || status=1
	done
done
echo "$saved_hugepages" > $hugepages
echo "$saved_thp" > $thp
if dmesg | grep -E "$SPLAT_PATTERN" >/dev/null; then
	dmesg | grep -E -B2 -A30 "$SPLAT_PATTERN" | head -80
	echo "bench: kernel splat during the benchmarks"
	status=1
fi
exit $status
