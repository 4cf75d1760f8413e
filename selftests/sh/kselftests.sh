# SPDX-License-Identifier: GPL-2.0
# kselftests.sh rvfio|upstream TEST: run one of the kernel's own VFIO kselftests
# (tools/testing/selftests/vfio of the 7.3 tree, built unmodified into /tests/kselftests by
# selftests/Makefile) against either VFIO stack, the way their README says: bind with the
# tree's scripts/setup.sh (vfio-pci by name), run through scripts/run.sh (which appends the
# BDFs), undo with scripts/cleanup.sh.
#
# TEST is one of: dma_mapping dma_mapping_mmio device driver sriov_uapi device_init_perf
# iommufd_setup.
#
# On a kernel with IOMMUFD every variant runs: vfio_type1_iommu and vfio_type1v2_iommu
# (/dev/vfio/vfio), iommufd_compat_type1 and iommufd_compat_type1v2 (/dev/iommu given to the
# group as its container) and iommufd (the device cdev bound to /dev/iommu, also the library's
# default mode). Without IOMMUFD (Debian's kernel) there is no /dev/iommu on either stack: only
# the vfio_type1* variants run (harness "-v" filters), the tests that use the library's default
# mode run from a second build whose lib/iommu.c defaults to vfio_type1v2_iommu instead
# (/tests/kselftests/type1v2/), and iommufd_setup skips.
#
# Exit status: 0 pass, 4 skip, 1 fail. Leaves no module loaded and the devices on their
# default drivers (none, for edu and igb) with driver_override cleared.
. /guest/lib.sh

KS=/tests/kselftests
stack=$1
test=$2
say() { echo "# kselftests: $*"; }

case $stack in
rvfio | upstream) ;;
*) fail "usage: kselftests.sh rvfio|upstream TEST (unknown stack '$stack')" ;;
esac

edu=$(bdf_of $EDU_ID) || fail "no edu device"
igb=$(bdf_of $IGB_ID) || fail "no igb device"
# The build of the tests that use the library's default mode (iommufd), and whether the
# iommufd variants can run.
iommufd= default=$KS/type1v2
if kconfig IOMMUFD; then iommufd=1 default=$KS; fi
per_device=
filter_modes=1
only_modes=
hugepages=
case $test in
dma_mapping) bin=$KS/vfio_dma_mapping_test devs=$edu hugepages=1 ;;
dma_mapping_mmio) bin=$KS/vfio_dma_mapping_mmio_test devs=$edu ;;
# edu has MSI (and no MSI-X), igb has MSI-X and FLR: run the whole binary on each.
device) bin=$default/vfio_pci_device_test devs="$edu $igb" per_device=1 filter_modes= ;;
# Only igb has a driver in the selftests' library that QEMU can emulate. On the debug kernel
# (rvfio_kernel=debug) its fixture alone (1 GiB of shared memory pinned and mapped, then
# unmapped) outlasts the harness's 30 s: the copy with every timeout ten times longer
# (selftests/Makefile, KSELF_SLOW), and only the type1v2 variant (50 s a test there; the type1
# one, which differs only in the backend's unmap semantics, runs on the test kernel).
driver)
	bin=$default/vfio_pci_driver_test devs=$igb
	if [ "${rvfio_kernel:-test}" = debug ]; then
		bin=$KS/slow/vfio_pci_driver_test only_modes=vfio_type1v2_iommu
	fi
	;;
# vfio-pci refuses sriov_numvfs on a PF it drives unless enable_sriov=1.
sriov_uapi) bin=$KS/vfio_pci_sriov_uapi_test devs=$igb RVFIO_PCI_PARAMS=enable_sriov=1 ;;
device_init_perf) bin=$KS/vfio_pci_device_init_perf_test devs="$edu $igb" ;;
iommufd_setup)
	[ -n "$iommufd" ] || { say "SKIP: vfio_iommufd_setup_test needs /dev/iommu (no IOMMUFD in this kernel)"; exit 4; }
	bin=$KS/vfio_iommufd_setup_test devs=$edu filter_modes= ;;
*) fail "unknown kselftest '$test'" ;;
esac
[ -x "$bin" ] || fail "$bin not built"
before=
for d in $devs; do before="$before $d=$(current_driver $d)"; done
case $bin in
*/type1v2/*)
	say "NOTE: $(basename $bin) is the build whose lib/iommu.c has default_iommu_mode switched" \
		"from iommufd to vfio_type1v2_iommu at build time (selftests/Makefile; sources unmodified otherwise)" ;;
*/slow/*)
	say "NOTE: $(basename $bin) is the build whose lib/iommu.c defaults to vfio_type1v2_iommu and" \
		"whose harness timeouts are ten times longer, for the debug kernel (selftests/Makefile KSELF_SLOW)" ;;
esac

export RVFIO_PCI_PARAMS
say "loading $stack${RVFIO_PCI_PARAMS:+ (vfio-pci $RVFIO_PCI_PARAMS)}"
load_$stack

# 2 MiB pages for the hugetlb_2mb variants; for the hugetlb_1gb ones, the 1 GiB page that
# run-guest.sh reserves at boot (this kernel cannot allocate one at run time). Without it
# those variants skip, and say so.
gig=/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
if [ -n "$hugepages" ]; then
	prev_2m=$(cat /proc/sys/vm/nr_hugepages)
	prev_1g=$(cat $gig 2>/dev/null)
	[ "$prev_2m" -ge 2 ] || echo 2 >/proc/sys/vm/nr_hugepages
	say "hugepages: 2 MiB pages available: $(cat /proc/sys/vm/nr_hugepages)"
	if [ -w $gig ]; then
		# Boot-reserved pages (hugepagesz=1G hugepages=N on the kernel command line) count too.
		[ "$(cat $gig)" != 0 ] || echo 1 >$gig 2>/dev/null
		say "hugepages: 1 GiB pages available: $(cat $gig)"
		[ "$(cat $gig)" != 0 ] ||
			say "SKIP expected: the *_anonymous_hugetlb_1gb variants (no 1 GiB page could be allocated)"
	else
		say "SKIP expected: the *_anonymous_hugetlb_1gb variants (no 1 GiB hstate: this kernel" \
			"cannot allocate gigantic pages at run time (no CONFIG_CONTIG_ALLOC) and none were" \
			"reserved at boot (hugepagesz=1G hugepages=1))"
	fi
fi

rc=0
mkdir -p /tmp/kselftests
export TMPDIR=/tmp/kselftests
say "+ bash $KS/scripts/setup.sh $devs"
bash $KS/scripts/setup.sh $devs || rc=1

# The harness's "-v" takes exact variant names: list them (-l) and keep the type1 ones.
vargs= skipped=
if [ $rc = 0 ] && [ -n "$filter_modes" ]; then
	# main() of some tests opens the device (driver) or creates a VF (sriov_uapi) before the
	# harness sees -l: a failure there is the test's own failure, shown as is.
	bash $KS/scripts/run.sh $bin -l >/tmp/kselftests/list.out 2>/tmp/kselftests/list.err
	list=$(awk '
		/^# FIXTURE/ { on = 1; next }
		!on || /^-----/ { next }
		{
			f = ($0 ~ /^[^ ]/) ? $1 : ""
			rest = substr($0, (length(f) > 20 ? length(f) : 20) + 2)
			if (rest ~ /^[^ ]/) { split(rest, w, " "); print w[1] }
		}' /tmp/kselftests/list.err | sort -u)
	for v in $list; do
		case $v in
		vfio_type1_iommu | vfio_type1_iommu_* | vfio_type1v2_iommu | vfio_type1v2_iommu_*) runs=1 ;;
		iommufd | iommufd_*) runs=$iommufd ;;
		*) runs= ;;
		esac
		case " ${only_modes:-$v} " in
		*" $v "*) ;;
		*) runs= ;;
		esac
		if [ -n "$runs" ]; then vargs="$vargs -v $v"; else skipped="$skipped $v"; fi
	done
	say "running variants:${vargs:- NONE}"
	why=
	[ -n "$iommufd" ] || why="this kernel has no IOMMUFD, so no /dev/iommu"
	[ -z "$only_modes" ] || why="${why:+$why; }on this kernel only $only_modes"
	say "SKIPPED variants${why:+ ($why)}:${skipped:- none}"
	if [ -z "$vargs" ]; then
		say "FAIL: no variant to run listed by '$bin -l'; its output:"
		cat /tmp/kselftests/list.out /tmp/kselftests/list.err
		rc=1
	fi
fi

if [ $rc = 0 ]; then
	if [ -n "$per_device" ]; then
		skipped_all=1
		for d in $devs; do
			say "+ $bin $d"
			$bin $d
			r=$?
			say "$(basename $bin) on $d: exit $r"
			case $r in
			0) skipped_all= ;;
			4) ;;
			*) rc=1 ;;
			esac
		done
		[ $rc = 0 ] && [ -n "$skipped_all" ] && rc=4
	else
		say "+ bash $KS/scripts/run.sh $bin$vargs"
		bash $KS/scripts/run.sh $bin $vargs
		rc=$?
	fi
fi

# A test must not leave VFs behind (sriov_uapi destroys its VF at exit).
for d in $devs; do
	nv=/sys/bus/pci/devices/$d/sriov_numvfs
	if [ -f $nv ] && [ "$(cat $nv)" != 0 ]; then
		say "FAIL: $d still has $(cat $nv) VFs"
		echo 0 >$nv
		rc=1
	fi
done

say "+ bash $KS/scripts/cleanup.sh"
bash $KS/scripts/cleanup.sh || rc=1
for d in $devs; do
	ovr=$(cat /sys/bus/pci/devices/$d/driver_override)
	case " $before " in *" $d=$(current_driver $d) "*) ;; *) ovr=bad ;; esac
	if [ "$ovr" != "(null)" ] && [ -n "$ovr" ]; then
		say "FAIL: $d not restored (driver $(current_driver $d), was:$before;" \
			"driver_override $(cat /sys/bus/pci/devices/$d/driver_override))"
		rc=1
	fi
done
if [ -n "$hugepages" ]; then
	echo "$prev_2m" >/proc/sys/vm/nr_hugepages
	[ -w $gig ] && echo "$prev_1g" >$gig
fi
rm -rf /tmp/kselftests
unload_$stack
say "$test on $stack: exit $rc"
exit $rc
