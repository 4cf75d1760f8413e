# SPDX-License-Identifier: GPL-2.0
# dpdk_testpmd.sh BDF: DPDK's testpmd (bookworm's DPDK 22.11, in the initramfs with
# mkinitramfs.sh --dpdk) drives the e1000e at BDF with its net_e1000_em PMD, the device
# already on vfio-pci in noiommu mode (/dev/vfio/noiommu-N) and left there: IOVA as physical
# addresses (noiommu has no IOMMU to translate, so DPDK's DMA addresses are the pages' own,
# read from /proc/self/pagemap). The e1000e's wire loops back to it (run-guest.sh), so with
# io forwarding the first burst (start tx_first) goes round and round: every frame testpmd
# receives it sends again. It must have received and sent at least $MIN_PACKETS frames in
# $FWD_SECONDS s, and its log must show VFIO in No-IOMMU mode and the PMD probing BDF.
#
# 2 MiB hugepages: 256 more are reserved for the run, on a hugetlbfs mount of our own (so
# that nothing of another test's, or a 1 GiB page, is used), and given back after; EAL's run
# files go to a directory of our own. testpmd is gone when the script ends, whatever
# happened; the caller unbinds the device.
. /guest/lib.sh
bdf=${1:?usage: dpdk_testpmd.sh BDF}

TESTPMD=/usr/bin/dpdk-testpmd
HUGEPAGES=256 MIN_FREE_HUGEPAGES=64
# Forwarding time (from testpmd's prompt: its start-up under TCG takes a while), and what it
# must move in that time (thousands a second go round under TCG). The time limits stay under
# the guest runner's 300 s per test, so that this script always cleans up itself.
FWD_SECONDS=5 MIN_PACKETS=256
PROMPT_WAIT=150 TESTPMD_TIMEOUT=240
NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
FREE=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages

[ -x $TESTPMD ] || fail "no $TESTPMD in the initramfs (mkinitramfs.sh --dpdk)"
[ "$(current_driver "$bdf")" = vfio-pci ] || fail "$bdf is on $(current_driver "$bdf"), not vfio-pci"
[ "$(cat /sys/module/vfio/parameters/enable_unsafe_noiommu_mode 2>/dev/null)" = Y ] ||
	fail "vfio's enable_unsafe_noiommu_mode is not Y"
group=$(iommu_group "$bdf")
[ -c /dev/vfio/noiommu-$group ] || fail "no /dev/vfio/noiommu-$group for $bdf"
[ -e $NR ] || fail "no 2 MiB hugepages ($NR)"

work=/tmp/dpdk_testpmd.$$
out=$work/testpmd.out
nr0=$(cat $NR)
mounted=
cleanup() {
	# testpmd ended by itself or by timeout's SIGKILL; a survivor would keep the device
	# open and the hugepages in use.
	if pidof dpdk-testpmd >/dev/null; then
		echo "testpmd still running: killing it"
		kill -9 $(pidof dpdk-testpmd) 2>/dev/null
		sleep 1
	fi
	[ -z "$mounted" ] || umount "$work/huge" || echo "umount $work/huge failed"
	echo "$nr0" > $NR || echo "could not give the hugepages back ($NR: $(cat $NR), was $nr0)"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$work/huge" "$work/run"

echo $((nr0 + HUGEPAGES)) > $NR || fail "cannot reserve $HUGEPAGES 2 MiB hugepages"
[ "$(cat $FREE)" -ge $MIN_FREE_HUGEPAGES ] ||
	fail "only $(cat $FREE) free 2 MiB hugepages after asking for $HUGEPAGES more (need $MIN_FREE_HUGEPAGES)"
mount -t hugetlbfs -o pagesize=2M hugetlbfs "$work/huge" || fail "mount hugetlbfs"
mounted=1
echo "# $(cat $FREE) free 2 MiB hugepages on $work/huge; $bdf in noiommu group $group"

# feed: testpmd's commands, the forwarding time counted from its first prompt; stops early
# if testpmd has already exited (its exit status is then in $work/rc).
feed() {
	echo "set fwd io"
	echo "start tx_first"
	i=0
	while ! grep -q 'testpmd> ' "$out" 2>/dev/null; do
		[ -f "$work/rc" ] && return
		[ $i -lt $PROMPT_WAIT ] || break
		sleep 1
		i=$((i + 1))
	done
	sleep $FWD_SECONDS
	echo "show port stats all"
	echo stop
	echo quit
}

# EAL: two lcores (lcore 1 forwards, lcore 0 reads the commands; both on CPU 0 in a guest
# of one vCPU), only BDF probed; the hugepage files unlinked once mapped (nothing left on the
# mount), EAL's run directory (config, multi-process and telemetry sockets: AF_UNIX) under
# $work. testpmd: one mbuf pool of 8192 (its default, sized for 32 ports of 4096
# descriptors, is about 400 MB).
lcores="-l 0-1"
[ "$(nproc)" -ge 2 ] || lcores="--lcores 0@0,1@0"
feed | {
	RUNTIME_DIRECTORY=$work/run timeout -s KILL $TESTPMD_TIMEOUT $TESTPMD -v $lcores -n 1 \
		--iova-mode=pa -a "$bdf" --file-prefix rvfio --huge-dir "$work/huge" --huge-unlink \
		-- -i --total-num-mbufs=8192 >"$out" 2>&1
	echo $? >"$work/rc"
}
rc=$(cat "$work/rc")

# port_stat NAME: NAME's count (RX-packets, TX-packets) in the port statistics testpmd showed.
port_stat() { awk -v name="$1:" '/NIC statistics for port 0/ { on = 1 } on && $1 == name { print $2; exit }' "$out"; }
rx=$(port_stat RX-packets)
tx=$(port_stat TX-packets)

problems=
problem() { problems="$problems
  - $*"; }
case $rc in
0) ;;
137) problem "testpmd killed after ${TESTPMD_TIMEOUT}s" ;;
*) problem "testpmd exited with status $rc" ;;
esac
grep -q 'EAL: VFIO support initialized' "$out" || problem "no 'VFIO support initialized'"
grep -q 'EAL: Using IOMMU type 8 (No-IOMMU)' "$out" || problem "VFIO not in No-IOMMU mode (no 'Using IOMMU type 8 (No-IOMMU)')"
grep -q "Selected IOVA mode 'PA'" "$out" || problem "IOVA mode is not PA"
grep -q "EAL: Probe PCI driver: net_e1000_em (8086:10d3) device: $bdf" "$out" ||
	problem "net_e1000_em did not probe $bdf"
[ "${rx:-0}" -ge $MIN_PACKETS ] || problem "RX-packets ${rx:-none}, fewer than $MIN_PACKETS"
[ "${tx:-0}" -ge $MIN_PACKETS ] || problem "TX-packets ${tx:-none}, fewer than $MIN_PACKETS"
if [ -n "$problems" ]; then
	echo "--- testpmd's output"
	cat "$out"
	echo "---"
	fail "testpmd on $bdf:$problems"
fi
grep -E "RTE Version|VFIO support initialized|Using IOMMU type|Selected IOVA mode|Probe PCI driver" "$out"
echo "# testpmd on $bdf in ${FWD_SECONDS}s of io forwarding: RX-packets $rx, TX-packets $tx"

# The device stays on vfio-pci for the caller, with no testpmd left.
cleanup
trap - EXIT
pidof dpdk-testpmd >/dev/null && fail "testpmd still running after the test"
[ "$(current_driver "$bdf")" = vfio-pci ] || fail "$bdf left on $(current_driver "$bdf"), not vfio-pci"
echo "ok: testpmd forwarded frames over $bdf's looped wire in noiommu mode"
