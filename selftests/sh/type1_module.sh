# SPDX-License-Identifier: GPL-2.0
# type1_module.sh rvfio|upstream: type1 as the module of its own upstream's is,
# vfio_iommu_type1.
# - /sys/module/vfio_iommu_type1/parameters: upstream's names, permissions and defaults.
# - A container set to type1 holds the module; dma_entry_limit written at run time applies
#   to the next VFIO_SET_IOMMU (type1_api_test's module tests).
# - Unloaded (no container uses it), containers offer no type1 and VFIO_SET_IOMMU says
#   -ENODEV; loaded again, type1 works again.
. /guest/lib.sh
stack=$1
case $stack in rvfio) moddir=$RVFIO_MODDIR ;; upstream) moddir=$UPSTREAM_MODDIR ;; *) fail "unknown stack '$stack'" ;; esac
edu=$(bdf_of $EDU_ID) || fail "no edu device"

# The parameters' defaults are checked as the module loads them: unsafe interrupts are
# allowed (on platforms without MSI isolation, guest/lib.sh) only after that.
platform_msi_isolation=${rvfio_msi_isolation:-1}
rvfio_msi_isolation=1
load_$stack
rvfio_msi_isolation=$platform_msi_isolation
module_loaded vfio_iommu_type1 || fail "loading the $stack stack did not load vfio_iommu_type1"
dir=/sys/module/vfio_iommu_type1/parameters
names=$(ls $dir | tr '\n' ' ')
want="allow_unsafe_interrupts disable_hugepages dma_entry_limit "
[ "$names" = "$want" ] || fail "parameters: '$names', want '$want'"
for p in allow_unsafe_interrupts disable_hugepages dma_entry_limit; do
	[ "$(stat -c %a $dir/$p)" = 644 ] || fail "$p mode $(stat -c %a $dir/$p)"
done
[ "$(cat $dir/allow_unsafe_interrupts)" = N ] || fail "allow_unsafe_interrupts = $(cat $dir/allow_unsafe_interrupts)"
[ "$(cat $dir/disable_hugepages)" = N ] || fail "disable_hugepages = $(cat $dir/disable_hugepages)"
[ "$(cat $dir/dma_entry_limit)" = 65535 ] || fail "dma_entry_limit = $(cat $dir/dma_entry_limit)"
echo Y >$dir/disable_hugepages && [ "$(cat $dir/disable_hugepages)" = Y ] || fail "disable_hugepages not writable"
echo N >$dir/disable_hugepages
allow_unsafe_interrupts

bind_driver "$edu" vfio-pci
export RVFIO_EDU_BDF=$edu RVFIO_STACK=$stack
/tests/c/type1_api_test -r global.backend_holds_module -r global.entry_limit_read_at_set_iommu ||
	fail "type1_api_test's module tests"

rmmod vfio_iommu_type1 || fail "rmmod vfio_iommu_type1 with no container using it"
RVFIO_TYPE1_ABSENT=1 /tests/c/type1_api_test -r global.without_type1 >/tmp/type1-absent.out 2>&1
rc=$?
cat /tmp/type1-absent.out
[ $rc = 0 ] || fail "without_type1"
grep -q '# SKIP' /tmp/type1-absent.out && fail "without_type1 skipped"

insmod $moddir/vfio_iommu_type1.ko || fail "insmod $moddir/vfio_iommu_type1.ko again"
allow_unsafe_interrupts
/tests/c/type1_api_test -r global.extensions_and_set_iommu -r global.backend_holds_module ||
	fail "type1 after loading it again"
unbind_driver "$edu"
unload_$stack
check_dmesg_clean
echo "ok: vfio_iommu_type1 as upstream's on $stack"
