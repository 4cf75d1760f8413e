# SPDX-License-Identifier: GPL-2.0
# bench_smoke.sh [vfio|vm]: the benchmarks, short, so they cannot rot: guest/bench.sh runs
# vfio_bench --quick (vfio), or the start and stop of a 1 GiB VM with a passed-through nvme
# (vm, in the VM tests' one-vCPU boot), once on each stack (loading and unloading both
# itself). Passes when both stacks report the same, complete set of metrics with finite
# positive values (and upstream's iommufd, where the kernel has it, its DMA-mapping or VM ones); prints the ratios for information. The timings of this short run are not
# judged (qemu-test/bench.sh does the real runs).
. /guest/lib.sh

part=${1:-vfio}
out=/tmp/bench-smoke.results
rm -f $out
case $part in
vfio)
	rvfio_bench_runs=1 rvfio_bench_args=--quick rvfio_bench_small_max=10000 \
		rvfio_bench_hugepages=64 rvfio_bench_vm_sizes=none \
		RVFIO_BENCH_RESULTS=$out sh /guest/bench.sh || fail "guest/bench.sh failed"
	groups="map_anon4k map_thp map_hugetlb2m map_firsttouch small4k_map_flatness small2m_map_flatness unmap_span msi_latency loopback_latency bar_read map_barmmap open_close"
	min=27
	;;
vm)
	rvfio_bench_runs=1 rvfio_bench_vfio=0 rvfio_bench_hugepages=64 \
		rvfio_bench_vm_sizes=1G rvfio_bench_vm_mems="4k thp" \
		RVFIO_BENCH_RESULTS=$out sh /guest/bench.sh || fail "guest/bench.sh failed"
	groups="vm_start_4k_1G vm_stop_4k_1G vm_start_thp_1G vm_stop_thp_1G"
	min=4
	;;
*) fail "usage: bench_smoke.sh [vfio|vm]" ;;
esac
[ -s $out ] || fail "no results"
for stack in upstream rvfio; do
	awk -v s=$stack '$2 == s { print $4 }' $out | sort >/tmp/bench-smoke.$stack
done
n=$(wc -l </tmp/bench-smoke.rvfio)
echo "bench_smoke: $n metrics on rvfio, $(wc -l </tmp/bench-smoke.upstream) on upstream"
# Every group of the quick run: DMA map/unmap by memory kind, small mappings, spanning
# unmap, interrupts, BAR access, open/close; or a VM's start and stop.
[ "$n" -ge $min ] || fail "only $n metrics reported"
cmp -s /tmp/bench-smoke.rvfio /tmp/bench-smoke.upstream ||
	fail "the stacks reported different metrics: $(diff /tmp/bench-smoke.upstream /tmp/bench-smoke.rvfio | tr '\n' ' ')"
for g in $groups; do
	grep -q "^$g" /tmp/bench-smoke.rvfio || fail "no $g metric"
done
# Where the kernel has IOMMUFD, upstream's iommufd ran as a third stack: its DMA-mapping
# metrics (vfio) or its VMs (QEMU's iommufd backend) must be there too.
if kconfig IOMMUFD; then
	awk '$2 == "iommufd" { print $4 }' $out | sort >/tmp/bench-smoke.iommufd
	echo "bench_smoke: $(wc -l </tmp/bench-smoke.iommufd) metrics on iommufd"
	case $part in
	vfio) io_groups="map_anon4k map_thp map_hugetlb2m map_firsttouch small4k_map_flatness unmap_span open_close" ;;
	vm) io_groups=$groups ;;
	esac
	for g in $io_groups; do
		grep -q "^$g" /tmp/bench-smoke.iommufd || fail "no $g metric on iommufd"
	done
fi
bad=$(awk '!($5 > 0 && $5 < 1e12) { print }' $out)
[ -z "$bad" ] || fail "non-positive or absurd values: $bad"
# Informational: ratio of the two stacks' values (> 1: rvfio better).
awk '{ v[$2, $4] = $5; better[$4] = $7 }
     END { for (m in better) if (v["upstream", m] > 0 && v["rvfio", m] > 0) {
             r = better[m] == "higher" ? v["rvfio", m] / v["upstream", m] : v["upstream", m] / v["rvfio", m]
             printf "bench_smoke: %-28s %8.3gx\n", m, r } }' $out | sort
echo "bench_smoke: OK"
