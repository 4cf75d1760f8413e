#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest initramfs: busybox, the guest scripts, our modules, upstream's VFIO
# modules (kept apart, for comparison only), the static test programs and a static bash;
# with --vm also what VMs inside the guest need: the host's QEMU (with its libraries and
# firmware) and an inner VM (/vm: the test kernel, an initramfs of its own). That is 68 MB
# more to unpack, about 1 s more boot under TCG: only the boot of the VM tests has it.
# With --dpdk, DPDK's testpmd (qemu-test/dpdk.sh: bookworm's packages, unpacked) with its
# libraries and the PMD plugins the e1000e needs, for selftests/sh/dpdk_testpmd.sh.
#
#   mkinitramfs.sh KERNEL_BUILD_DIR OUTPUT.cpio [--vm] [--dpdk]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kbuild=$1 out=$2 with_vm= with_dpdk=
shift 2
for opt in "$@"; do
	case $opt in
	--vm) with_vm=1 ;;
	--dpdk) with_dpdk=1 ;;
	*) die "mkinitramfs.sh: unknown option '$opt' (--vm, --dpdk)" ;;
	esac
done
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,guest,tests,lib/modules/rvfio,lib/modules/upstream}
cp /bin/busybox "$root/bin/busybox"
file -L "$root/bin/busybox" | grep -q 'statically linked' || die "/bin/busybox is not static (install busybox-static)"
# bash, for the kernel's VFIO kselftest scripts (setup.sh, run.sh, cleanup.sh are bash).
[ -x /bin/bash-static ] || die "no /bin/bash-static (install bash-static)"
cp /bin/bash-static "$root/bin/bash"
cp "$RVFIO_ROOT/qemu-test/guest/init" "$root/init"
chmod +x "$root/init"
cp "$RVFIO_ROOT"/qemu-test/guest/*.sh "$root/guest/"

# Our modules: the repository's build, or for a distribution kernel (qemu-test/distro.sh
# guest: the .rvfio-distro marker) the build made for it with its toolchain.
distro=
[ -f "$kbuild/.rvfio-distro" ] && distro=$(cat "$kbuild/.rvfio-distro")
ours=$RVFIO_ROOT test_mods=$RVFIO_ROOT/selftests/kmod
[ -z "$distro" ] || ours=$kbuild/rvfio test_mods=$kbuild/rvfio
for ko in vfio.ko vfio_iommu_type1.ko vfio-pci.ko; do
	[ -f "$ours/$ko" ] || die "$ko not built in $ours (make)"
	cp "$ours/$ko" "$root/lib/modules/rvfio/"
done
# RVFIO_BASELINE_MODS=DIR: another build of ours (bench.sh's RVFIO_BENCH_BASELINE), loaded
# by the guest's load_baseline.
if [ -n "${RVFIO_BASELINE_MODS:-}" ]; then
	mkdir -p "$root/lib/modules/baseline"
	# (A baseline from before type1 was a module of its own has no vfio_iommu_type1.ko.)
	for ko in vfio.ko vfio_iommu_type1.ko vfio-pci.ko; do
		[ ! -f "$RVFIO_BASELINE_MODS/$ko" ] || cp "$RVFIO_BASELINE_MODS/$ko" "$root/lib/modules/baseline/"
	done
fi

# The kernel's configuration, for tests that depend on it (guest/lib.sh kconfig).
cp "$kbuild/.config" "$root/lib/modules/kernel.config"

# copy_at_path FILE: FILE, dereferenced, at its own path in the initramfs.
copy_at_path() {
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
}

# copy_from_tree TREE FILE: TREE's FILE (a path inside TREE, as in the guest) at that path,
# symbolic links kept as links, each with what it points to. Kept because identity matters:
# DPDK's drivers are in its plugin directory, linked to from the library directory, and EAL
# dlopens every plugin there; a second copy of a library testpmd links would be a second
# inode, and glibc would load it a second time (every driver registered twice).
copy_from_tree() {
	local tree=$1 file=$2 target
	[ -e "$root$file" ] || [ -L "$root$file" ] && return
	[ -e "$tree$file" ] || die "no $file in $tree"
	mkdir -p "$root$(dirname "$file")"
	if [ -L "$tree$file" ]; then
		target=$(readlink "$tree$file")
		ln -s "$target" "$root$file"
		case $target in /*) ;; *) target=$(dirname "$file")/$target ;; esac
		copy_from_tree "$tree" "$(realpath -m -s "$target")"
	else
		cp "$tree$file" "$root$file"
	fi
}

# copy_libs FILE [TREE]: the libraries of an ELF file of this machine (or TREE's FILE, a path
# inside TREE), found in TREE's library directories first, then as the dynamic loader finds
# them here, each at its own path.
copy_libs() {
	local file=$1 tree=${2:-} ldd_out libs lib
	ldd_out=$(LD_LIBRARY_PATH=${tree:+$tree/usr/lib/x86_64-linux-gnu:$tree/lib/x86_64-linux-gnu} ldd "$tree$file")
	! grep -q 'not found' <<<"$ldd_out" || die "ldd $tree$file: $(grep 'not found' <<<"$ldd_out")"
	libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$ldd_out")
	[ -n "$libs" ] || die "ldd $tree$file listed no libraries"
	for lib in $libs; do
		if [ -n "$tree" ] && [ "${lib#"$tree"/}" != "$lib" ]; then
			copy_from_tree "$tree" "${lib#"$tree"}"
		else
			copy_at_path "$lib"
		fi
	done
}

# copy_program FILE [TREE]: a dynamically linked program of this machine (or TREE's FILE)
# with its dynamic loader and libraries, each at its own path.
copy_program() {
	local prog=$1 tree=${2:-} interp
	if [ -n "$tree" ]; then copy_from_tree "$tree" "$prog"; else copy_at_path "$prog"; fi
	interp=$(readelf -l "$tree$prog" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
	[ -n "$interp" ] || die "no program interpreter in $tree$prog"
	copy_at_path "$interp"
	copy_libs "$prog" "$tree"
}

# Upstream's modules and their load order, from the kernel's modules.dep. A distribution
# kernel has as modules what the test kernel builds in: those the guest needs at boot (nvme
# for the NVMe devices, kvm-amd for VMs) go to /lib/modules/boot with their own load order
# (guest/init loads them), and are left out of upstream's. Compressed modules (.ko.xz) are
# decompressed: busybox's insmod reads plain ELF.
moddir=$(echo "$kbuild"/modroot/lib/modules/*)
[ -f "$moddir/modules.dep" ] || die "no modules.dep in $moddir"
mkdir -p "$root/lib/modules/boot"
python3 - "$moddir" "$root/lib/modules" "${distro:+nvme kvm-amd}" <<'PY'
import lzma, os, shutil, sys
moddir, dest, boot = sys.argv[1], sys.argv[2], sys.argv[3].split()
deps = {}
for line in open(os.path.join(moddir, "modules.dep")):
    mod, _, rest = line.partition(":")
    deps[mod] = rest.split()
def name(m):
    base = os.path.basename(m)
    return base[: base.index(".ko")]
def closure(names):
    wanted = [m for m in deps if name(m) in names]
    if len(wanted) != len(names):
        sys.exit(f"modules missing from modules.dep: wanted {names}, found {wanted}")
    order = []
    def visit(m):
        if m in order:
            return
        for d in deps.get(m, []):
            visit(d)
        order.append(m)
    for m in sorted(wanted):
        visit(m)
    return order
def install(order, sub):
    with open(os.path.join(dest, sub, "load-order"), "w") as f:
        for m in order:
            src, out = os.path.join(moddir, m), os.path.join(dest, sub, name(m) + ".ko")
            if m.endswith(".ko.xz"):
                with lzma.open(src) as i, open(out, "wb") as o:
                    shutil.copyfileobj(i, o)
            else:
                shutil.copy(src, out)
            f.write(name(m) + ".ko\n")
at_boot = closure(boot) if boot else []
install(at_boot, "boot")
install([m for m in closure(["vfio-pci", "vfio_iommu_type1"]) if m not in at_boot], "upstream")
# iommufd and what it needs, for rvfio's device cdevs (guest/lib.sh load_rvfio), where the
# kernel has it as a module.
if any(name(m) == "iommufd" for m in deps):
    os.makedirs(os.path.join(dest, "iommufd"), exist_ok=True)
    install([m for m in closure(["iommufd"]) if m not in at_boot], "iommufd")
PY

# The debug kernel's deliberately leaking sample module, for the runner's kmemleak self-check.
find "$moddir" -name kmemleak-test.ko -exec cp {} "$root/lib/modules/" \;
# Test-only modules of our own (selftests/kmod, built by `make test-modules`).
mkdir -p "$root/lib/modules/test"
for ko in "$test_mods"/*.ko; do
	case ${ko##*/} in vfio.ko | vfio_iommu_type1.ko | vfio-pci.ko) continue ;; esac
	[ -f "$ko" ] && cp "$ko" "$root/lib/modules/test/"
done

if [ -d "$RVFIO_ROOT/selftests/out" ]; then
	cp -r "$RVFIO_ROOT"/selftests/out/. "$root/tests/"
fi

# A distribution kernel: what `make install` needs on a host, for the install test
# (selftests/sh/install_distro.sh): the kernel's own VFIO modules at their installed paths
# (compressed as shipped), kmod (this machine's, with its libraries; depmod, modprobe and
# modinfo in /usr/sbin, where busybox has none), scripts/install.sh, and rvfio's modules
# signed with the build's throwaway key (qemu-test/distro.sh).
if [ -n "$distro" ]; then
	kdir=$root/lib/modules/$distro
	mkdir -p "$kdir/kernel/drivers" "$kdir/kernel/virt/lib" "$root/usr/sbin" "$root/tests/scripts"
	cp -r "$moddir/kernel/drivers/vfio" "$kdir/kernel/drivers/"
	cp "$moddir"/kernel/virt/lib/irqbypass.ko* "$kdir/kernel/virt/lib/"
	touch "$kdir"/modules.{order,builtin,builtin.modinfo}
	copy_program /usr/bin/kmod
	for tool in depmod modprobe modinfo insmod rmmod lsmod; do
		ln -s /usr/bin/kmod "$root/usr/sbin/$tool"
	done
	cp "$RVFIO_ROOT/scripts/install.sh" "$root/tests/scripts/"
	[ -d "$kbuild/signed" ] || die "no $kbuild/signed (qemu-test/distro.sh guest)"
	cp -r "$kbuild/signed" "$root/lib/modules/signed"
fi

# --- with --vm, for VMs with devices passed through (qemu-test/guest/vm.sh): the host's own
# QEMU with its ldd closure at the same paths, the dynamic loader, and the firmware it loads
# for a q35 VM booted with -kernel, in a -L directory (/vm/fw).
vm_payload() {
	qemu=/usr/bin/qemu-system-x86_64
	[ -x $qemu ] || die "no $qemu (qemu-test/setup.sh installs it)"
	copy_program $qemu
	mkdir -p "$root/vm/fw"
	for fw in bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
		for dir in /usr/share/qemu /usr/share/seabios ""; do
			[ -n "$dir" ] || die "no QEMU firmware $fw (qemu-system-data, seabios)"
			[ -e "$dir/$fw" ] && cp -L "$dir/$fw" "$root/vm/fw/" && break
		done
	done

	# The inner VM: the test kernel (nvme built in; in a debug-kernel guest too, where the
	# VM is only a workload that the sanitizers would slow down), and its initramfs:
	# busybox, its init (qemu-test/vm/init), the static programs of selftests/out/vm and
	# the NIC drivers the test guest does not load (modules of that build).
	vmkbuild=$(kernel_build_dir test)
	[ -f "$vmkbuild/.rvfio-built" ] || vmkbuild=$kbuild
	vmmoddir=$(echo "$vmkbuild"/modroot/lib/modules/*)
	cp "$vmkbuild/arch/x86/boot/bzImage" "$root/vm/bzImage"
	vmroot=$root/vm/root
	mkdir -p "$vmroot"/{bin,dev,proc,sys,lib/modules}
	cp /bin/busybox "$vmroot/bin/"
	cp "$RVFIO_ROOT/qemu-test/vm/init" "$vmroot/init"
	chmod +x "$vmroot/init"
	for prog in vm_blk_check vm_net_check; do
		f=$RVFIO_ROOT/selftests/out/vm/$prog
		[ -x "$f" ] || die "$f not built (make -C selftests)"
		file -L "$f" | grep -q 'statically linked' || die "$f is not static"
		cp "$f" "$vmroot/bin/"
	done
	for ko in e1000e.ko igbvf.ko; do
		f=$(find "$vmmoddir" -name "$ko" | head -1)
		[ -n "$f" ] || die "no $ko in $vmmoddir (kernel.config: CONFIG_E1000E=m, CONFIG_IGBVF=m)"
		cp "$f" "$vmroot/lib/modules/"
	done
	(cd "$vmroot" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) > "$root/vm/initramfs.cpio"
	rm -rf "$vmroot"
}
[ -z "$with_vm" ] || vm_payload

# --- with --dpdk, for selftests/sh/dpdk_testpmd.sh: DPDK's testpmd from the packages that
# qemu-test/dpdk.sh unpacks, with its libraries (the unpacked tree's, else this machine's)
# and only the plugins the e1000e needs (with their libraries) in EAL's plugin directory.
dpdk_payload() {
	local tree plugin
	tree=$("$RVFIO_ROOT/qemu-test/dpdk.sh" root)
	copy_program /usr/bin/dpdk-testpmd "$tree"
	# Loaded by glibc itself, not linked: pthread_cancel (EAL's cleanup, at quit) unwinds with
	# it, and aborts without ("libgcc_s.so.1 must be installed for pthread_cancel to work").
	[ -f /lib/x86_64-linux-gnu/libgcc_s.so.1 ] || die "no /lib/x86_64-linux-gnu/libgcc_s.so.1 (libgcc-s1)"
	copy_at_path /lib/x86_64-linux-gnu/libgcc_s.so.1
	for plugin in $("$RVFIO_ROOT/qemu-test/dpdk.sh" plugins); do
		copy_from_tree "$tree" "$plugin"
		copy_libs "$plugin" "$tree"
	done
}
[ -z "$with_dpdk" ] || dpdk_payload

(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) > "$out"
