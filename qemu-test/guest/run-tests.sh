# SPDX-License-Identifier: GPL-2.0
# Guest side of the test suite: run every test of /tests/tests.txt ("name<TAB>command"),
# print TAP on the console and on the results port (fd 3). A test fails when it exits
# non-zero, leaves a kernel splat in dmesg, times out, or leaves a vfio module loaded; on
# the debug kernel also when kmemleak finds memory it leaked.
#
# kmemleak (debug kernel), rvfio_kmemleak=ours|all|end|off (default ours): a scan right after
# each test ("ours": each test not named *_upstream, i.e. each on rvfio; "all": every test;
# "end": none). The test that allocated a leaked object is told by its pid (PIDMAP: "FIRST
# LAST NAME" per test) and module code in its backtrace by the module symbols that test
# saved (SYMDIR/NAME), as every test unloads its modules before the scan. A test fails for
# the objects it allocated; the others (allocated by a test scanned later or not at all,
# reported late because stale copies of their address kept them referenced for a while, or
# by no test: a kernel thread) fail one more test at the end, kmemleak_final, after a last
# scan. rvfio_nested=1 (a runner inside a test: the self-check) takes what kmemleak lists
# already as known instead of scanning first, and has no kmemleak_final.
#
# rvfio_boot=main|vm|noiommu, rvfio_boot_tests=REGEX, rvfio_other_boots=REGEX: the tests that
# start VMs inside the guest, and those that need a machine without an IOMMU, run in boots of
# their own (the host's run-tests.sh boots up to three times): "main" leaves out the tests
# rvfio_other_boots matches, any other boot runs only those rvfio_boot_tests matches; none
# lists another boot's tests as not run.
. /guest/lib.sh

TEST_TIMEOUT=${rvfio_test_timeout:-300}
filter=${rvfio_filter:-}
exclude=${rvfio_exclude:-}
tests=${rvfio_tests_file:-/tests/tests.txt}
leakmode=${rvfio_kmemleak:-ours}
nested=${rvfio_nested:-}

tap() { echo "$*"; echo "$*" >&3; }

# this_boot NAME: whether NAME belongs to this boot (rvfio_boot).
this_boot() {
	case "${rvfio_boot:-}" in
	'') true ;;
	main) ! echo "$1" | grep -qE "$rvfio_other_boots" ;;
	*) echo "$1" | grep -qE "$rvfio_boot_tests" ;;
	esac
}

# selected NAME: whether the filter takes NAME and the exclusion does not.
selected() {
	this_boot "$1" &&
		{ [ -z "$filter" ] || echo "$1" | grep -qE "$filter"; } &&
		{ [ -z "$exclude" ] || ! echo "$1" | grep -qE "$exclude"; }
}

total=0 left_out=
while IFS='	' read -r name cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	if selected "$name"; then
		total=$((total + 1))
	elif [ -n "$exclude" ] && this_boot "$name" && echo "$name" | grep -qE "$exclude" &&
		{ [ -z "$filter" ] || echo "$name" | grep -qE "$filter"; }; then
		left_out="$left_out $name"
	fi
done < "$tests"
kmemleak_on && [ -z "$nested" ] && total=$((total + 1))
tap "TAP version 13"
tap "1..$total"
[ -z "$left_out" ] || tap "# not run on this kernel (rvfio_exclude=$exclude):$left_out"

PIDMAP=/tmp/rvfio-pids.$$ SYMDIR=/tmp/rvfio-modsyms.$$ SEEN=/tmp/rvfio-kmemleak-seen.$$
LATE=/tmp/rvfio-kmemleak-late.$$
: >$PIDMAP
: >$SEEN
: >$LATE
mkdir -p $SYMDIR
if kmemleak_on; then
	# What is listed now (after boot, or before a nested run) is no test's: known from now on.
	[ -n "$nested" ] || { echo "# kmemleak: scanning once before the first test"; kmemleak_scan "$(date +%s)"; }
	echo "# kmemleak: $(kmemleak_new $SEEN | grep -c '^unreferenced object') objects listed before the first test (not any test's)"
fi

# by_test: "NAME xCOUNT, ..." of the "[allocated during: NAME]" annotations on stdin.
by_test() {
	sed -n 's/.*\[allocated during: \(.*\)\]$/\1/p' | sort | uniq -c |
		awk '{ c = $1; $1 = ""; printf "%s%s x%d", sep, substr($0, 2), c; sep = ", " }'
}

# kmemleak_check NAME: scan; print what kmemleak newly lists; keep the objects that NAME
# did not allocate in $LATE; set $mine to the number NAME did allocate and $leak_note to a
# summary (empty if nothing new was listed).
kmemleak_check() {
	local leaks objs refused
	mine=0 leak_note=
	refused=$(kmemleak_scan "$(date +%s)")
	leaks=$(kmemleak_new $SEEN | kmemleak_annotate $PIDMAP $SYMDIR "$1")
	if [ -n "$refused" ]; then
		echo "# $refused"
		leak_note=$refused mine=1
	fi
	[ -n "$leaks" ] || return 0
	echo "$leaks" | head -300 | sed 's/^/# kmemleak: /'
	objs=$(echo "$leaks" | grep -c '^unreferenced object')
	mine=$((mine + $(echo "$leaks" | grep -c "\[allocated during: $1\]\$")))
	# Whole objects (header line to the next header) not allocated by NAME go to $LATE.
	echo "$leaks" | awk -v me="[allocated during: $1]" '
		/^unreferenced object/ { if (obj != "" && !mine) printf "%s", obj; obj = ""; mine = 0 }
		index($0, me) { mine = 1 }
		{ obj = obj $0 "\n" }
		END { if (obj != "" && !mine) printf "%s", obj }' >>$LATE
	leak_note="${leak_note:+$leak_note; }kmemleak: $objs unreferenced objects (allocated during: $(echo "$leaks" | by_test))"
}

n=0
while IFS='	' read -r name cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	selected "$name" || continue
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
	case "$leakmode:$name" in
	end:* | ours:*_upstream) ;;
	*)
		if kmemleak_on; then
			kmemleak_check "$name"
			if [ "$mine" -gt 0 ]; then
				why="${why:+$why; }$leak_note"
				rc=1
			elif [ -n "$leak_note" ]; then
				echo "# kmemleak: none allocated by $name (left for kmemleak_final): $leak_note"
			fi
		fi
		;;
	esac
	# (kmemleak's "N new suspected memory leaks" line is the check above's business; its
	# "Cannot allocate a scan area" is kmemleak's own allocation failing, when the
	# allocation-failure walk makes it fail, after which it scans the whole object.)
	benign='kmemleak: [0-9]* new suspected memory leaks|kmemleak: Cannot allocate a scan area'
	if dmesg | grep -vE "$benign" | grep -E "$SPLAT_PATTERN" >/dev/null; then
		dmesg | grep -vE "$benign" | grep -E -B2 -A30 "$SPLAT_PATTERN" |
			head -80 | sed 's/^/# dmesg: /'
		why="${why:+$why; }kernel splat in dmesg"
		rc=1
	fi
	if module_loaded vfio || module_loaded vfio_pci; then
		why="${why:+$why; }left a vfio module loaded"
		rc=1
		for m in vfio_pci vfio_pci_core vfio_iommu_type1 vfio iommufd; do rmmod $m 2>/dev/null; done
	fi
	if [ $rc -eq 0 ]; then
		tap "ok $n $name # ${secs}s"
	elif [ $rc -eq 4 ]; then
		tap "ok $n $name # SKIP (see output above)"
	else
		tap "not ok $n $name # exit $rc${why:+, $why}"
	fi
done < "$tests"

if kmemleak_on && [ -z "$nested" ]; then
	n=$((n + 1))
	echo "# ---- kmemleak_final: a last scan; leaks not failed on the test that allocated them"
	dmesg -c >/dev/null
	kmemleak_check kmemleak_final
	if [ -s $LATE ] || [ "$mine" -gt 0 ]; then
		echo "# kmemleak_final: the objects not failed on the test that allocated them:"
		sed 's/^/# kmemleak_final: /' $LATE | head -300
		tap "not ok $n kmemleak_final # $(grep -c '^unreferenced object' $LATE) objects (allocated during: $(by_test <$LATE))"
	else
		tap "ok $n kmemleak_final"
	fi
fi
exit 0
