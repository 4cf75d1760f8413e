# SPDX-License-Identifier: GPL-2.0
# Guest side of the test suite: run every test of /tests/tests.txt ("name<TAB>command"),
# print TAP on the console and on the results port (fd 3). A test fails when it exits
# non-zero, leaves a kernel splat in dmesg, times out, or leaves a vfio module loaded; on
# the debug kernel also when kmemleak finds memory it leaked (a scan right after each test).
. /guest/lib.sh

TEST_TIMEOUT=${rvfio_test_timeout:-300}
filter=${rvfio_filter:-}
tests=${rvfio_tests_file:-/tests/tests.txt}

tap() { echo "$*"; echo "$*" >&3; }

total=0
while IFS='	' read -r name cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	[ -n "$filter" ] && ! echo "$name" | grep -qE "$filter" && continue
	total=$((total + 1))
done < "$tests"
tap "TAP version 13"
tap "1..$total"

if kmemleak_on; then
	# What boot leaked (or looks leaked) is no test's: list it for the record, then forget it.
	echo "# kmemleak: scanning once before the first test"
	kmemleak_collect "$(date +%s)" | grep -E '^unreferenced object' | sed 's/^/# kmemleak at boot: /' | head -20
fi

n=0
while IFS='	' read -r name cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	[ -n "$filter" ] && ! echo "$name" | grep -qE "$filter" && continue
	n=$((n + 1))
	echo "# ---- $name: $cmd"
	dmesg -c >/dev/null
	start=$(date +%s)
	(cd /tmp && exec timeout "$TEST_TIMEOUT" sh -c "$cmd") </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	why=""
	[ $rc -eq 143 ] || [ $rc -eq 124 ] && why="timed out after ${TEST_TIMEOUT}s"
	if kmemleak_on; then
		leaks=$(kmemleak_collect "$(date +%s)")
		if [ -n "$leaks" ]; then
			echo "$leaks" | head -150 | sed 's/^/# kmemleak: /'
			nleaks=$(echo "$leaks" | grep -c '^unreferenced object')
			if [ "$nleaks" -gt 0 ]; then
				why="${why:+$why; }kmemleak: $nleaks unreferenced objects"
			else
				why="${why:+$why; }$(echo "$leaks" | head -1)"
			fi
			rc=1
		fi
	fi
	if dmesg | grep -E "$SPLAT_PATTERN" >/dev/null; then
		dmesg | grep -E -B2 -A30 "$SPLAT_PATTERN" | head -80 | sed 's/^/# dmesg: /'
		why="${why:+$why; }kernel splat in dmesg"
		rc=1
	fi
	if module_loaded vfio || module_loaded vfio_pci; then
		why="${why:+$why; }left a vfio module loaded"
		rc=1
		for m in vfio_pci vfio_pci_core vfio_iommu_type1 vfio; do rmmod $m 2>/dev/null; done
	fi
	if [ $rc -eq 0 ]; then
		tap "ok $n $name # ${secs}s"
	elif [ $rc -eq 4 ]; then
		tap "ok $n $name # SKIP (see output above)"
	else
		tap "not ok $n $name # exit $rc${why:+, $why}"
	fi
done < "$tests"
exit 0
