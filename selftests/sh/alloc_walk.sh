# SPDX-License-Identifier: GPL-2.0
# alloc_walk.sh rvfio|upstream [HARNESS OPTIONS]: the allocation-failure walk
# (c/alloc_walk_test.c) on that stack, with edu and igb on vfio-pci and two 2 MiB hugetlb
# pages for its hugetlb map (given back after). Needs CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC
# and CONFIG_FAULT_INJECTION_STACKTRACE_FILTER: the debug kernel.
. /guest/lib.sh

stack=$1
shift
case $stack in
rvfio | upstream) ;;
*) fail "usage: alloc_walk.sh rvfio|upstream [HARNESS OPTIONS]" ;;
esac
nr=/proc/sys/vm/nr_hugepages
prev=$(cat $nr)
[ "$prev" -ge 2 ] || echo 2 > $nr
sh /guest/with-vfio.sh "$stack" /tests/c/alloc_walk_test "$@"
rc=$?
echo "$prev" > $nr
exit $rc
