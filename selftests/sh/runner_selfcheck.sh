# SPDX-License-Identifier: GPL-2.0
# The guest test runner must turn each kind of fault red: run it on a small suite of
# deliberately broken tests and check every verdict.
. /guest/lib.sh

cat > /tmp/selfcheck.txt <<'LIST'
kernel_warning	echo "<7>WARNING: rvfio runner self-check (deliberate)" > /dev/kmsg
failed_insmod	insmod /tests/tests.txt
leaves_module_loaded	insmod /lib/modules/rvfio/vfio.ko
times_out	sleep 60
exits_nonzero	false
passes	true
LIST

# No kmemleak scans in the nested run (debug kernel): they are slow and the outer runner scans.
rvfio_tests_file=/tmp/selfcheck.txt rvfio_test_timeout=2 rvfio_kmemleak=off sh /guest/run-tests.sh 3>/tmp/selfcheck.tap >/tmp/selfcheck.out 2>&1
cat /tmp/selfcheck.tap

expect() {
	grep -qE "^$1 [0-9]+ $2( |\$)" /tmp/selfcheck.tap || { cat /tmp/selfcheck.out; fail "expected '$1' for $2${3:+ ($3)}"; }
	[ -z "$3" ] || grep -E " $2 " /tmp/selfcheck.tap | grep -q "$3" || fail "$2: expected reason '$3'"
}
expect "not ok" kernel_warning "kernel splat"
expect "not ok" failed_insmod
expect "not ok" leaves_module_loaded "left a vfio module loaded"
expect "not ok" times_out "timed out"
expect "not ok" exits_nonzero
expect "ok" passes
module_loaded vfio && fail "the runner did not unload the module a test left behind"

# Debug kernel: a test that leaks kernel memory (the kernel's kmemleak sample module orphans
# objects at load and unload) must fail through the runner's kmemleak scan.
if kmemleak_on && [ -f /lib/modules/kmemleak-test.ko ]; then
	printf 'leaks_memory\tinsmod /lib/modules/kmemleak-test.ko && rmmod kmemleak_test\n' >/tmp/selfcheck-leak.txt
	first=$(pid_now)
	rvfio_tests_file=/tmp/selfcheck-leak.txt rvfio_nested=1 rvfio_kmemleak=all \
		sh /guest/run-tests.sh 3>/tmp/selfcheck.tap >/tmp/selfcheck.out 2>&1
	# Some of its objects are reported only by later scans (stale copies of their addresses
	# linger): the runners must not blame them on the tests after this one.
	echo "$first $(pid_now) runner self-check kmemleak-test.ko" >>$KMEMLEAK_IGNORE
	cat /tmp/selfcheck.tap
	expect "not ok" leaks_memory "unreferenced objects"
fi
dmesg -c >/dev/null
echo "runner verdicts are right for every fault"
