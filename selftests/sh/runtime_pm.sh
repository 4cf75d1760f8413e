# SPDX-License-Identifier: GPL-2.0
# runtime_pm.sh rvfio|upstream: idle D3 (selftests/c/runtime_pm_test.c) with edu and igb
# bound to that stack's vfio-pci: idle functions in D3hot on a kernel with CONFIG_PM (D0
# without), D0 while open; then with disable_idle_d3=1, D0 throughout.
. /guest/lib.sh
stack=$1
case $stack in rvfio | upstream) ;; *) fail "unknown stack '$stack'" ;; esac
idle=D0
kconfig PM && idle=D3hot
echo "# idle functions must be in $idle (CONFIG_PM: $(kconfig PM && echo y || echo n))"
RVFIO_IDLE_STATE=$idle sh /guest/with-vfio.sh $stack /tests/c/runtime_pm_test ||
	fail "runtime_pm_test with idle D3 ($idle)"
echo "# disable_idle_d3=1: D0 throughout"
RVFIO_PCI_PARAMS=disable_idle_d3=1 RVFIO_IDLE_STATE=D0 sh /guest/with-vfio.sh $stack \
	/tests/c/runtime_pm_test || fail "runtime_pm_test with disable_idle_d3=1"
