# SPDX-License-Identifier: GPL-2.0
# Guest side of the test suite: run every test of /tests/tests.txt ("name<TAB>command"),
# print TAP on the console and on the results port (fd 3). A test fails when it exits
# non-zero, leaves a kernel splat in dmesg, times out, or leaves a vfio module loaded; on
# the debug kernel also when kmemleak finds memory it leaked.
#
# kmemleak (debug kernel; rvfio_kmemleak=on|all|off, default on): two scans right after each
# test ("on": each test not named *_upstream, so each of ours; "all": every test). The test
# that allocated a leaked object is told by its pid (PIDMAP: "FIRST LAST NAME" per test) and
# module code in its backtrace by the module symbols that test saved (SYMDIR/NAME), as every
# test unloads its modules before the scan. A test fails for the objects it allocated; the
# others (allocated by an unscanned or earlier test, whose report came late because stale
# copies of the address kept them referenced, or by no test: a kernel thread) fail the extra
# last test, kmemleak_late, after a final scan.
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
kmemleak_on && total=$((total + 1))
tap "TAP version 13"
tap "1..$total"

PIDMAP=/tmp/rvfio-pids.$$ SYMDIR=/tmp/rvfio-modsyms.$$ LATE=/tmp/rvfio-late.$$
: >$PIDMAP
: >$LATE
mkdir -p $SYMDIR
if kmemleak_on; then
	# What boot leaked (or looks leaked) is no test's: list it for the record, then forget it.
	echo "# kmemleak: scanning once before the first test"
	kmemleak_collect "$(date +%s)" | grep -E '^unreferenced object' | sed 's/^/# kmemleak at boot: /' | head -20
fi

# kmemleak_check NAME: collect what kmemleak reports now; print it; keep the objects that
# NAME did not allocate in $LATE; set $mine to the number NAME did allocate (0 if none) and
# $leak_note to a summary (empty if nothing was reported).
kmemleak_check() {
	local leaks objs
	mine=0 leak_note=
	leaks=$(kmemleak_collect "$(date +%s)" | kmemleak_annotate $PIDMAP $SYMDIR "$1")
	[ -n "$leaks" ] || return 0
	echo "$leaks" | head -300 | sed 's/^/# kmemleak: /'
	objs=$(echo "$leaks" | grep -c '^unreferenced object')
	if [ "$objs" -eq 0 ]; then
		leak_note=$(echo "$leaks" | head -1)
		mine=1
		return 0
	fi
	mine=$(echo "$leaks" | grep -c "\[allocated during: $1\]\$")
	# Whole objects (header line to the next header) not allocated by NAME go to $LATE.
	echo "$leaks" | awk -v me="[allocated during: $1]" '
		/^unreferenced object/ { if (obj != "" && !mine) printf "%s", obj; obj = ""; mine = 0 }
		index($0, me) { mine = 1 }
		{ obj = obj $0 "\n" }
		END { if (obj != "" && !mine) printf "%s", obj }' >>$LATE
	leak_note="kmemleak: $objs unreferenced objects (allocated during: $(echo "$leaks" |
		sed -n 's/.*\[allocated during: \(.*\)\]$/\1/p' | sort | uniq -c |
		awk '{ c = $1; $1 = ""; printf "%s%s x%d", sep, substr($0, 2), c; sep = ", " }'))"
}

n=0
while IFS='	' read -r name cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	[ -n "$filter" ] && ! echo "$name" | grep -qE "$filter" && continue
	n=$((n + 1))
	echo "# ---- $name: $cmd"
	dmesg -c >/dev/null
	start=$(date +%s)
	first_pid=$(pid_now)
	kmemleak_on && export RVFIO_MODSYMS=$SYMDIR/$name
	(cd /tmp && exec timeout "$TEST_TIMEOUT" sh -c "$cmd") </dev/null
	rc=$?
	unset RVFIO_MODSYMS
	echo "$first_pid $(pid_now) $name" >>$PIDMAP
	secs=$(($(date +%s) - start))
	why=""
	[ $rc -eq 143 ] || [ $rc -eq 124 ] && why="timed out after ${TEST_TIMEOUT}s"
	case "${rvfio_kmemleak:-on}:$name" in
	on:*_upstream) ;;
	*)
		if kmemleak_on; then
			kmemleak_check "$name"
			if [ "$mine" -gt 0 ]; then
				why="${why:+$why; }$leak_note"
				rc=1
			elif [ -n "$leak_note" ]; then
				echo "# kmemleak: none allocated by $name; for kmemleak_late: $leak_note"
			fi
		fi
		;;
	esac
	# (kmemleak's "N new suspected memory leaks" line is the check above's.)
	if dmesg | grep -v 'kmemleak: [0-9]* new suspected memory leaks' | grep -E "$SPLAT_PATTERN" >/dev/null; then
		dmesg | grep -v 'kmemleak: [0-9]* new suspected memory leaks' | grep -E -B2 -A30 "$SPLAT_PATTERN" |
			head -80 | sed 's/^/# dmesg: /'
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

if kmemleak_on; then
	n=$((n + 1))
	echo "# ---- kmemleak_late: leaks not allocated by the test they were reported after"
	kmemleak_check kmemleak_late
	if [ -s $LATE ]; then
		echo "# kmemleak_late: the objects reported after another test than the one that allocated them:"
		sed 's/^/# kmemleak_late: /' $LATE | head -300
		tap "not ok $n kmemleak_late # $(grep -c '^unreferenced object' $LATE) objects (allocated during: $(
			sed -n 's/.*\[allocated during: \(.*\)\]$/\1/p' $LATE | sort | uniq -c |
			awk '{ c = $1; $1 = ""; printf "%s%s x%d", sep, substr($0, 2), c; sep = ", " }'))"
	else
		tap "ok $n kmemleak_late"
	fi
fi
exit 0
