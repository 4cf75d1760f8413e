#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# DPDK's testpmd for the guest (selftests/sh/dpdk_testpmd.sh): bookworm's DPDK 22.11 .debs,
# downloaded (never installed: `apt-get install dpdk` would upgrade system packages) and
# unpacked into $RVFIO_CACHE/dpdk/root with every library they need that this machine does
# not have. Cached: once unpacked, a run does nothing but print.
#
#   dpdk.sh [root]        prepare the tree; print its root directory
#   dpdk.sh plugins       prepare the tree; print the guest paths of the PMD plugins the
#                         guest needs (mkinitramfs.sh --dpdk copies them)
#   dpdk.sh check CPIO    run an initramfs's testpmd (mkinitramfs.sh --dpdk) on this machine,
#                         chrooted into the unpacked initramfs, on a null vdev: no guest, no
#                         device, but every library must come from the initramfs
#
# What is downloaded is found, not listed: testpmd (package dpdk-dev; the dpdk package is
# only scripts) and the plugins below are unpacked, then each library that ldd finds neither
# in the tree nor on this machine is mapped to its Debian package by the library packaging
# policy's name rule (libfoo.so.N -> libfooN, underscores as dashes; a dash before N when the
# name ends in a digit), with the exceptions in SONAME_PACKAGES, and unpacked in turn, until
# nothing is missing. DPDK's own packages are taken at the version of the first dpdk-dev
# downloaded: its drivers share internal symbols, so a mixed tree could fail at load time
# (rm -rf $RVFIO_CACHE/dpdk moves to bookworm's current point release).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DPDK_DIR=$RVFIO_CACHE/dpdk
DPDK_DEBS=$DPDK_DIR/debs
DPDK_ROOT=$DPDK_DIR/root
MULTIARCH=x86_64-linux-gnu
TESTPMD=/usr/bin/dpdk-testpmd
# The PMD plugins the guest loads, beyond the drivers testpmd links (the 8086:10d3 82574L is
# net_e1000's "net_e1000_em"; mempool_ring provides the default mempool ops that testpmd's
# mbuf pools need; bus_pci is linked by testpmd, named here because the e1000e is found by it).
# Debian's EAL dlopens every plugin in its plugin directory, so the guest's holds only these
# and the drivers testpmd links (which it loads anyway).
DPDK_PLUGINS=(bus_pci net_e1000 mempool_ring)
# Only for `check`: a device that needs no hardware. Never copied into the initramfs.
CHECK_PLUGINS=(net_null)
# Libraries whose package the name rule does not give.
declare -A SONAME_PACKAGES=([libmlx5.so.1]=ibverbs-providers [libz.so.1]=zlib1g)

# lib_path: the tree's library directories, searched before this machine's.
lib_path() { echo "$DPDK_ROOT/usr/lib/$MULTIARCH:$DPDK_ROOT/lib/$MULTIARCH"; }

# abi: DPDK's library ABI (the N of librte_eal.so.N) that testpmd links.
abi() {
	readelf -d "$DPDK_ROOT$TESTPMD" | sed -n 's/.*Shared library: \[librte_eal\.so\.\(.*\)\]$/\1/p'
}

# package_of SONAME: the Debian package that ships that library.
package_of() {
	local so=$1 name ver
	[ -z "${SONAME_PACKAGES[$so]:-}" ] || { echo "${SONAME_PACKAGES[$so]}"; return; }
	name=${so%%.so.*} ver=${so#*.so.}
	[ "$name" != "$so" ] || die "cannot name the package of '$so' (add it to SONAME_PACKAGES)"
	name=${name//_/-}
	case $name in *[0-9]) name=$name- ;; esac
	echo "$name$ver"
}

# is_dpdk PACKAGE: whether PACKAGE is built from DPDK's source (pinned to one version).
is_dpdk() { case $1 in dpdk-dev | librte-*) return 0 ;; esac; return 1; }

# deb_of PACKAGE: its cached .deb (at DPDK's version for DPDK's packages), or nothing.
deb_of() {
	local pattern=${1}_*.deb
	# (An epoch's colon is %3a in a .deb's name.)
	is_dpdk "$1" && [ -n "${dpdk_version:-}" ] && pattern=${1}_${dpdk_version/:/%3a}_*.deb
	compgen -G "$DPDK_DEBS/$pattern" | head -1 || true
}

# unpack PACKAGE...: download those not cached (never installed) and unpack them into the
# tree, each once.
declare -A unpacked=()
unpack() {
	local p want=()
	for p in "$@"; do
		[ -n "$(deb_of "$p")" ] && continue
		if is_dpdk "$p" && [ -n "${dpdk_version:-}" ]; then want+=("$p=$dpdk_version"); else want+=("$p"); fi
	done
	if [ ${#want[@]} -gt 0 ]; then
		log "downloading ${want[*]}"
		"$RVFIO_ROOT/qemu-test/setup.sh" apt-download "$DPDK_DEBS" "${want[@]}" >&2
	fi
	for p in "$@"; do
		[ -n "$(deb_of "$p")" ] || die "no .deb of $p in $DPDK_DEBS after downloading it"
		[ -z "${unpacked[$p]:-}" ] || die "$p is unpacked but did not provide what it was fetched for"
		dpkg-deb -x "$(deb_of "$p")" "$DPDK_ROOT"
		unpacked[$p]=1
	done
}

# missing: the libraries that testpmd and the plugins need and that neither the tree nor
# this machine has (a plugin not yet unpacked counts as missing itself).
missing() {
	local so f
	for so in "$TESTPMD" "${DPDK_PLUGINS[@]}" "${CHECK_PLUGINS[@]}"; do
		case $so in
		/*) f=$DPDK_ROOT$so ;;
		*) so=librte_$so.so.$dpdk_abi f=$DPDK_ROOT/usr/lib/$MULTIARCH/$so ;;
		esac
		if [ ! -e "$f" ]; then
			echo "$so"
			continue
		fi
		LD_LIBRARY_PATH=$(lib_path) ldd "$f" | awk '$2 == "=>" && $3 == "not" { print $1 }'
	done | sort -u
}

# prepare: the tree, unless the cached one was made for the same plugins.
prepare() {
	local stamp="plugins: ${DPDK_PLUGINS[*]} ${CHECK_PLUGINS[*]}" need p pkgs
	[ "$(cat "$DPDK_ROOT/.rvfio-unpacked" 2>/dev/null)" = "$stamp" ] && return
	rm -rf "$DPDK_ROOT"
	mkdir -p "$DPDK_ROOT" "$DPDK_DEBS"
	# The version of a dpdk-dev already cached, else bookworm's current one.
	dpdk_version=
	unpack dpdk-dev
	dpdk_version=$(dpkg-deb -f "$(deb_of dpdk-dev)" Version)
	[ -x "$DPDK_ROOT$TESTPMD" ] || die "dpdk-dev $dpdk_version has no $TESTPMD"
	dpdk_abi=$(abi)
	[ -n "$dpdk_abi" ] || die "$TESTPMD links no librte_eal"
	log "DPDK $dpdk_version (ABI $dpdk_abi): resolving testpmd's libraries and plugins"
	while need=$(missing) && [ -n "$need" ]; do
		pkgs=()
		for p in $need; do pkgs+=("$(package_of "$p")"); done
		# shellcheck disable=SC2207 # package names have no spaces
		pkgs=($(printf '%s\n' "${pkgs[@]}" | sort -u))
		unpack "${pkgs[@]}"
	done
	# The plugin directory compiled into EAL must be where the packages put the plugins.
	p=$(plugin_dir)
	[ -d "$DPDK_ROOT$p" ] || die "EAL's plugin directory $p is not in the tree"
	echo "$stamp" > "$DPDK_ROOT/.rvfio-unpacked"
	log "DPDK $dpdk_version unpacked in $DPDK_ROOT (${#unpacked[@]} packages)"
}

# plugin_dir: the directory EAL loads every plugin from (RTE_EAL_PMD_PATH, built in).
plugin_dir() {
	local d
	d=$(strings "$DPDK_ROOT/usr/lib/$MULTIARCH/librte_eal.so.$(abi)" | sed -n 's/^DPDK_PLUGIN_PATH=//p' | head -1)
	[ -n "$d" ] || die "no DPDK_PLUGIN_PATH in librte_eal"
	echo "$d"
}

# check CPIO: testpmd of that initramfs, chrooted into it, in a mount namespace of its own
# (proc, sys and dev bound in; nothing stays mounted), with the null PMD added to its
# plugin directory: started forwarding, its port statistics shown, quit.
check() {
	local cpio=$1 tree dir so out rx
	[ -f "$cpio" ] || die "no initramfs $cpio"
	tree=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: the trap runs after tree is out of scope
	trap "rm -rf '$tree'" EXIT
	(cd "$tree" && cpio --quiet -id) < "$cpio"
	[ -x "$tree$TESTPMD" ] || die "$cpio has no $TESTPMD (mkinitramfs.sh --dpdk)"
	dir=$(plugin_dir)
	log "plugin directory $dir in the initramfs: $(cd "$tree$dir" && echo *)"
	for so in "${CHECK_PLUGINS[@]}"; do
		so=librte_$so.so.$(abi)
		cp -P "$DPDK_ROOT$dir/$so" "$DPDK_ROOT$dir/$so".* "$tree$dir/"
	done
	out=$tree/tmp/testpmd.out
	mkdir -p "$tree/tmp/run"
	{ echo "start tx_first"; sleep 2; echo "show port stats all"; echo stop; echo quit; } |
		unshare --mount --propagation private -- /bin/sh -c '
			tree=$1
			shift
			mount -t proc proc "$tree/proc" && mount --rbind /sys "$tree/sys" &&
				mount --rbind /dev "$tree/dev" || exit 1
			exec chroot "$tree" /bin/busybox env -i RUNTIME_DIRECTORY=/tmp/run "$@"
		' sh "$tree" "$TESTPMD" -l 0-1 -n 1 --no-huge -m 256 --no-pci --file-prefix rvfio-check \
		--log-level=lib.eal:debug --vdev net_null0 -- -i --total-num-mbufs=2048 > "$out" 2>&1 || {
		cat "$out" >&2
		die "testpmd failed in the initramfs"
	}
	cat "$out" >&2
	rx=$(awk '/NIC statistics for port 0/ { on = 1 } on && /RX-packets:/ { print $2; exit }' "$out")
	if [ "${rx:-0}" -le 0 ] || grep -q 'EAL: .*cannot open\|Error\|failed' "$out"; then
		die "testpmd in the initramfs: RX-packets '${rx:-none}', or an error above"
	fi
	log "testpmd ran from the initramfs alone: null port RX-packets $rx"
}

cmd=${1:-root}
case $cmd in
root | plugins | check) ;;
*) die "usage: dpdk.sh [root|plugins|check CPIO]" ;;
esac
prepare
case $cmd in
root) echo "$DPDK_ROOT" ;;
plugins)
	for so in "${DPDK_PLUGINS[@]}"; do echo "$(plugin_dir)/librte_$so.so.$(abi)"; done
	;;
check) check "${2:?usage: dpdk.sh check CPIO}" ;;
esac
