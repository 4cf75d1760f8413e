#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest initramfs: busybox, the guest scripts, our modules, upstream's VFIO
# modules (kept apart, for comparison only), the static test programs and a static bash.
#
#   mkinitramfs.sh KERNEL_BUILD_DIR OUTPUT.cpio
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kbuild=$1 out=$2
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

for ko in vfio.ko vfio-pci.ko; do
	[ -f "$RVFIO_ROOT/$ko" ] || die "$ko not built (make)"
	cp "$RVFIO_ROOT/$ko" "$root/lib/modules/rvfio/"
done

# Upstream's modules and their load order, from the tree's modules.dep.
moddir=$(echo "$kbuild"/modroot/lib/modules/*)
[ -f "$moddir/modules.dep" ] || die "no modules.dep in $moddir"
python3 - "$moddir" "$root/lib/modules/upstream" <<'PY'
import os, shutil, sys
moddir, dest = sys.argv[1], sys.argv[2]
deps = {}
for line in open(os.path.join(moddir, "modules.dep")):
    mod, _, rest = line.partition(":")
    deps[mod] = rest.split()
order = []
def visit(m):
    if m in order:
        return
    for d in deps.get(m, []):
        visit(d)
    order.append(m)
wanted = [m for m in deps if os.path.basename(m) in ("vfio-pci.ko", "vfio_iommu_type1.ko")]
if len(wanted) != 2:
    sys.exit(f"upstream VFIO modules missing from modules.dep: found {wanted}")
for m in sorted(wanted):
    visit(m)
with open(os.path.join(dest, "load-order"), "w") as f:
    for m in order:
        shutil.copy(os.path.join(moddir, m), dest)
        f.write(os.path.basename(m) + "\n")
PY

# The debug kernel's deliberately leaking sample module, for the runner's kmemleak self-check.
find "$moddir" -name kmemleak-test.ko -exec cp {} "$root/lib/modules/" \;
# Test-only modules of our own (selftests/kmod, built by `make test-modules`).
mkdir -p "$root/lib/modules/test"
for ko in "$RVFIO_ROOT"/selftests/kmod/*.ko; do
	[ -f "$ko" ] && cp "$ko" "$root/lib/modules/test/"
done

if [ -d "$RVFIO_ROOT/selftests/out" ]; then
	cp -r "$RVFIO_ROOT"/selftests/out/. "$root/tests/"
fi

(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) > "$out"
