#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmarks: rvfio against upstream VFIO in one guest boot (`make bench`). Sets up and
# builds like run-tests.sh, boots the guest once with guest/bench.sh, which runs
# selftests/bench/vfio_bench on both stacks, interleaved; then prints the table and writes
# CSV and SVG next to the raw results.
#
#   bench.sh [--quick]
#
# RVFIO_BENCH_RUNS (runs per stack, default 3), RVFIO_BENCH_SMALL_MAX (largest number of
# small mappings, default 1000000), RVFIO_BENCH_ARGS (more vfio_bench options, e.g.
# "--only map_anon4k"), RVFIO_BENCH_PROFILE=1 (kernel profile of each run in the console log;
# RVFIO_BENCH_CALLERS=FUNCTION adds who calls FUNCTION), RVFIO_BENCH_VM_SIZES (VM memory
# sizes for the VM start/stop runs, default "1G 3G"; "none" skips them),
# RVFIO_BENCH_VM_MEMS (their backings, default "4k 4kprealloc thp hugetlb"),
# RVFIO_BENCH_BASELINE=REV (also an older build of ours, the commit REV, as a third stack
# in the same boots: the table of this tree against it follows, for before/after figures)
# and RVFIO_OUTDIR (default $RVFIO_CACHE/bench) tune it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVFIO_ROOT"

runs=${RVFIO_BENCH_RUNS:-3}
small_max=${RVFIO_BENCH_SMALL_MAX:-1000000}
args=${RVFIO_BENCH_ARGS:-}
vm_sizes=${RVFIO_BENCH_VM_SIZES:-1G 3G}
vm_mems=${RVFIO_BENCH_VM_MEMS:-4k 4kprealloc thp hugetlb}
if [ "${1:-}" = --quick ]; then
	runs=${RVFIO_BENCH_RUNS:-2}
	small_max=${RVFIO_BENCH_SMALL_MAX:-10000}
	args="--quick $args"
	vm_sizes=${RVFIO_BENCH_VM_SIZES:-1G}
	vm_mems=${RVFIO_BENCH_VM_MEMS:-4k thp}
fi
outdir=${RVFIO_OUTDIR:-$RVFIO_CACHE/bench}
mkdir -p "$outdir"

"$RVFIO_ROOT/qemu-test/setup.sh"
kbuild=$("$RVFIO_ROOT/qemu-test/build-kernel.sh" test)
log "building modules against $kbuild"
make -s KDIR="$kbuild" modules >"$outdir/modules-build.log" 2>&1 || {
	cat "$outdir/modules-build.log" >&2
	die "module build failed"
}
# The stacks: upstream's and ours, and upstream's iommufd where the kernel has it (IOAS maps
# through /dev/iommu: the third column), or with a baseline build of ours instead.
stacks="upstream rvfio"
grep -qE '^CONFIG_IOMMUFD=(y|m)$' "$kbuild/.config" && stacks="$stacks iommufd"
if [ -n "${RVFIO_BENCH_BASELINE:-}" ]; then
	base=$outdir/baseline
	rm -rf "$base" && mkdir -p "$base"
	git -C "$RVFIO_ROOT" archive "$RVFIO_BENCH_BASELINE" | tar -x -C "$base" ||
		die "no commit $RVFIO_BENCH_BASELINE"
	log "building the baseline's modules ($(git -C "$RVFIO_ROOT" rev-parse --short "$RVFIO_BENCH_BASELINE"))"
	make -s -C "$base" KDIR="$kbuild" modules >"$outdir/baseline-build.log" 2>&1 || {
		cat "$outdir/baseline-build.log" >&2
		die "baseline module build failed"
	}
	export RVFIO_BASELINE_MODS=$base
	stacks="upstream rvfio baseline"
fi
log "building static selftests and benchmarks"
make -s -C selftests >/dev/null || die "selftest build failed"

# vfio_bench's boot, 6 GiB: 1 GiB hugetlb1g + 1.2 GiB of 2 MiB pages + 1 GiB buffers + page
# tables of a million mappings, with room to spare.
vfio_mem=${RVFIO_GUEST_MEM:-6G}
# The VM runs' boot: the largest VM's hugetlb pages stay reserved while a 4 KiB VM of that
# size pins all of its memory next to them, so twice the largest VM and 2 GiB for the guest
# kernel, QEMU and the payload; no 1 GiB page.
largest_vm=1
[ "$vm_sizes" = none ] || largest_vm=$(for s in $vm_sizes; do echo "${s%G}"; done | sort -n | tail -1)
vm_mem=${RVFIO_GUEST_MEM:-$((2 * largest_vm + 2))G}
# bench_boot DIR CPUS VM MEM HUGE1G ARGS...: one guest boot (VM: 1 with QEMU and the inner
# VM; MEM of memory, HUGE1G 1 GiB pages) of guest/bench.sh; its RESULT lines in DIR.
bench_boot() {
	local dir=$1 cpus=$2 vm=$3 mem=$4 huge1g=$5
	shift 5
	mkdir -p "$dir"
	RVFIO_GUEST_CPUS=$cpus RVFIO_GUEST_VM=$vm RVFIO_GUEST_MEM=$mem RVFIO_GUEST_1G_PAGES=$huge1g \
		"$RVFIO_ROOT/qemu-test/run-guest.sh" -t "${RVFIO_TIMEOUT:-5400}" -o "$dir" bench \
		rvfio_bench_runs="$runs" "rvfio_bench_stacks=\"$stacks\"" "$@" >"$dir/bench-console.log" || {
		tail -40 "$dir/bench-console.log" >&2
		die "benchmark guest failed (console: $dir/bench-console.log)"
	}
}
# vfio_bench in a boot of two vCPUs, as the suite's; the VM runs in a boot of their own
# with one (run-tests.sh: TCG's nested SVM and a second vCPU).
bench_boot "$outdir" 2 "" "$vfio_mem" "${RVFIO_GUEST_1G_PAGES:-1}" rvfio_bench_small_max="$small_max" rvfio_bench_vm_sizes=none \
	${args:+"rvfio_bench_args=\"$args\""} ${RVFIO_BENCH_PROFILE:+rvfio_bench_profile=1} \
	${RVFIO_BENCH_CALLERS:+rvfio_bench_callers=$RVFIO_BENCH_CALLERS}
if [ "$vm_sizes" != none ]; then
	bench_boot "$outdir/vm" 1 1 "$vm_mem" 0 rvfio_bench_vfio=0 \
		"rvfio_bench_vm_sizes=\"$vm_sizes\"" "rvfio_bench_vm_mems=\"$vm_mems\""
	cat "$outdir/results.log" "$outdir/vm/results.log" >"$outdir/results-all.log"
else
	cp "$outdir/results.log" "$outdir/results-all.log"
fi
python3 "$RVFIO_ROOT/qemu-test/bench-report.py" "$outdir/results-all.log" \
	--csv "$outdir/bench.csv" --svg "$outdir/bench.svg" | tee "$outdir/bench-table.txt"
if [ -n "${RVFIO_BENCH_BASELINE:-}" ]; then
	echo
	python3 "$RVFIO_ROOT/qemu-test/bench-report.py" "$outdir/results-all.log" --baseline |
		tee "$outdir/bench-baseline-table.txt"
fi
log "raw results, CSV, SVG and table in $outdir"
