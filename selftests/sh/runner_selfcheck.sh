# SPDX-License-Identifier: GPL-2.0
# The guest test runner must turn each kind of fault red: run it on a small suite of
# deliberately broken tests and check every verdict.
. /guest/lib.sh

cat > /tmp/selfcheck.txt <<'LIST'
kernel_warning	echo "<7>WARNING: rvfio runner self-check (deliberate)" > /dev/kmsg
failed_insmod	insmod /tests/tests.txt
leaves_module_loaded	sh -c '. /guest/lib.sh; load_rvfio'
times_out	sleep 60
exits_nonzero	false
passes	true
LIST

# No kmemleak scans in the nested run (debug kernel): they are slow and the outer runner scans.
# The outer run's test selection is not the nested run's.
rvfio_filter= rvfio_exclude= rvfio_boot= \
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

# The kmemleak attribution (kmemleak_report, any kernel) on a made-up listing: each object
# blamed on the innermost test whose pid range holds its pid, a bare address resolved
# against that test's module symbols, the self-check's deliberate leak left out, and an
# object seen once not listed again.
km=/tmp/selfcheck-km
rm -rf $km && mkdir -p $km/sym
cat >$km/listing <<'LISTING'
unreferenced object 0xffff888003a1b200 (size 64):
  comm "insmod", pid 120, jiffies 4294901000
  backtrace (crc 1234abcd):
    0xffffffffc0201234
unreferenced object 0xffff888003a1b400 (size 32):
  comm "sh", pid 300, jiffies 4294903000
  backtrace (crc 1234abcf):
    0xffffffffc0201000
unreferenced object 0xffff888003a1b500 (size 32):
  comm "sh", pid 410, jiffies 4294904000
  backtrace (crc 1234abd0):
    0xffffffffc0201008
LISTING
printf '100 200 outer_a\n250 350 outer_b\n290 310 inner_b\n' >$km/pidmap
printf '400 420 deliberate leak\n' >$km/ignore
printf '# load\nffffffffc0201000 t vfio_group_open\t[vfio]\nffffffffc0201200 T vfio_container_ioctl\t[vfio]\n' >$km/sym/outer_a
/tests/rust/kmemleak_report new $km/seen $km/listing >$km/new1 || fail "kmemleak_report new"
/tests/rust/kmemleak_report new $km/seen $km/listing >$km/new2 || fail "kmemleak_report new (again)"
[ "$(grep -c '^unreferenced object' $km/new1)" = 3 ] && [ ! -s $km/new2 ] ||
	fail "kmemleak_report new: $(cat $km/new1 $km/new2)"
/tests/rust/kmemleak_report annotate $km/pidmap $km/sym none $km/ignore <$km/listing >$km/ann 2>$km/err ||
	fail "kmemleak_report annotate"
for want in 'pid 120, jiffies 4294901000  \[allocated during: outer_a\]$' \
	'0xffffffffc0201234  (vfio_container_ioctl+0x34 \[vfio\], as loaded in outer_a)$' \
	'pid 300, jiffies 4294903000  \[allocated during: inner_b\]$' '^    0xffffffffc0201000$'; do
	grep -q "$want" $km/ann || { cat $km/ann; fail "kmemleak attribution: no line like '$want'"; }
done
! grep -q 'pid 410' $km/ann && grep -q '1 objects of a deliberate leak' $km/err ||
	{ cat $km/ann $km/err; fail "kmemleak attribution: the ignored object"; }
echo "kmemleak attribution right on a made-up listing"

# Debug kernel: a test that leaks kernel memory (the kernel's kmemleak sample module orphans
# objects at load and unload) must fail through the runner's kmemleak scan.
if kmemleak_on && [ -f /lib/modules/kmemleak-test.ko ]; then
	printf 'leaks_memory\tinsmod /lib/modules/kmemleak-test.ko && rmmod kmemleak_test\n' >/tmp/selfcheck-leak.txt
	first=$(pid_now)
	rvfio_filter= rvfio_exclude= rvfio_boot= \
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
