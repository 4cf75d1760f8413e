# SPDX-License-Identifier: GPL-2.0
# The container test must fail when no VFIO module is loaded: a suite that passes without
# the product proves nothing.
. /guest/lib.sh

module_loaded vfio && fail "precondition: vfio must not be loaded"
[ -e /dev/vfio/vfio ] && fail "precondition: /dev/vfio/vfio exists without a module"
if /tests/c/container_api_test >/tmp/negative.out 2>&1; then
	cat /tmp/negative.out
	fail "container_api_test passed with no VFIO module loaded"
fi
grep -q "not ok" /tmp/negative.out || fail "container_api_test failed without reporting a failed test"
echo "container_api_test fails without the module, as it must"
