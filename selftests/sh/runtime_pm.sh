# SPDX-License-Identifier: GPL-2.0
# runtime_pm.sh rvfio|upstream: runtime power management with edu and igb bound to that
# stack's vfio-pci. Idle D3 (selftests/c/runtime_pm_test.c): idle functions in D3hot on a
# kernel with CONFIG_PM (D0 without), D0 while open. The user's low power
# (selftests/c/low_power_test.c, the LOW_POWER DEVICE_FEATUREs): an open function in D3hot
# with CONFIG_PM (D0 without) while no access is in progress. Then both with
# disable_idle_d3=1, where idle functions stay in D0 but the user's low power is the same.
. /guest/lib.sh
stack=$1
case $stack in rvfio | upstream) ;; *) fail "unknown stack '$stack'" ;; esac
low=D0 rpm=0
kconfig PM && low=D3hot rpm=1
echo "# idle and low-power functions must be in $low (CONFIG_PM: $(kconfig PM && echo y || echo n))"
for prog in runtime_pm_test low_power_test; do
	RVFIO_IDLE_STATE=$low RVFIO_LOW_POWER_STATE=$low RVFIO_RUNTIME_PM=$rpm sh /guest/with-vfio.sh $stack \
		/tests/c/$prog || fail "$prog with idle D3 ($low)"
done
echo "# disable_idle_d3=1: idle in D0, the user's low power in $low"
for prog in runtime_pm_test low_power_test; do
	RVFIO_PCI_PARAMS=disable_idle_d3=1 RVFIO_IDLE_STATE=D0 RVFIO_LOW_POWER_STATE=$low RVFIO_RUNTIME_PM=$rpm \
		sh /guest/with-vfio.sh $stack /tests/c/$prog || fail "$prog with disable_idle_d3=1"
done
