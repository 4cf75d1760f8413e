# SPDX-License-Identifier: GPL-2.0
#
#   make                 build vfio.ko, vfio_iommu_type1.ko and vfio-pci.ko against $(KDIR)
#   make CLIPPY=1        the same, with the kernel's clippy lints
#   make test-modules    the test-only kernel modules of selftests/kmod
#   make rustfmt         format the Rust sources with the kernel tree's rustfmt config
#   make rustfmtcheck    fail if formatting is off
#   make check           the whole test suite in the QEMU guest, on the test kernel and then
#                        on the debug kernel (KASAN, lockdep, kmemleak, UBSAN), with one
#                        combined "N passed, N failed" (README's test command, CI)
#   make check-test      the suite on the test kernel only (about 9 min)
#   make check-debug     the suite on the debug kernel only, kmemleak scanned after every test
#   make check-debian    the suite on Debian's stock 7.3.4 kernel, rvfio built with Debian's
#                        toolchain (qemu-test/distro.sh), Debian's signed VFIO as reference
#   make check-amd       the suite on the test kernel behind QEMU's AMD-Vi (amd-iommu)
#                        instead of its VT-d
#   make install         rvfio's three modules of MODULES (default: this build) in place of
#                        the running kernel's VFIO (scripts/install.sh: KVER, DESTDIR,
#                        SIGN_KEY + SIGN_CERT to sign them); make uninstall undoes it
#   make demo            set everything up and run the main job (README's first command)
#   make bench           rvfio against upstream VFIO in one guest boot: table, CSV, SVG
#   make bench-quick     the same, short (what CI's bench_smoke test runs in the suite)
#
# KDIR defaults to the cached test kernel built by qemu-test/build-kernel.sh; any
# Rust-enabled 7.3 build tree works. A tree built with clang (the debug kernel) gets our C
# parts built with the same clang.

SHELL := /bin/bash
RVFIO_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KDIR ?= $(shell cd $(RVFIO_ROOT) && . qemu-test/lib.sh && kernel_build_dir test)
KSRC ?= $(shell cd $(RVFIO_ROOT) && . qemu-test/lib.sh && echo $$KSRC)
BINDGEN_BIN ?= $(shell cd $(RVFIO_ROOT) && . qemu-test/lib.sh && echo $$BINDGEN_ROOT/bin)
export PATH := $(BINDGEN_BIN):$(PATH)
export LIBCLANG_PATH ?= /usr/lib/llvm-19/lib
KCC ?= $(shell grep -qx 'CONFIG_CC_IS_CLANG=y' $(KDIR)/.config 2>/dev/null && cd $(RVFIO_ROOT) && . qemu-test/lib.sh && echo clang-$$LLVM_VERSION)

RUST_SOURCES = $(shell find $(RVFIO_ROOT)/rust -name '*.rs' ! -name '*_generated.rs')

.PHONY: modules test-modules clean rustfmt rustfmtcheck check check-test check-debug check-debian check-amd install uninstall demo setup kernel selftests bench bench-quick

modules:
	@test -f $(KDIR)/Module.symvers || { echo "KDIR=$(KDIR) is not a built kernel tree (run qemu-test/setup.sh and qemu-test/build-kernel.sh, or make demo)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(RVFIO_ROOT) $(if $(KCC),CC=$(KCC)) modules

# Test-only kernel modules (selftests/kmod: the IRQ bypass probe), against the same tree.
test-modules:
	$(MAKE) -C $(KDIR) M=$(RVFIO_ROOT)/selftests/kmod $(if $(KCC),CC=$(KCC)) modules

clean:
	-$(MAKE) -C $(KDIR) M=$(RVFIO_ROOT) $(if $(KCC),CC=$(KCC)) clean
	-$(MAKE) -C $(KDIR) M=$(RVFIO_ROOT)/selftests/kmod $(if $(KCC),CC=$(KCC)) clean
	rm -rf generated
	$(MAKE) -C selftests clean

rustfmt:
	rustfmt --edition 2021 --config-path $(KSRC)/.rustfmt.toml $(RUST_SOURCES)

rustfmtcheck:
	rustfmt --check --edition 2021 --config-path $(KSRC)/.rustfmt.toml $(RUST_SOURCES)

selftests:
	$(MAKE) -C selftests

setup:
	qemu-test/setup.sh

kernel: setup
	qemu-test/build-kernel.sh >/dev/null

check:
	qemu-test/check.sh

check-test:
	qemu-test/run-tests.sh

check-debug:
	RVFIO_KERNEL=debug qemu-test/run-tests.sh

check-debian:
	RVFIO_KERNEL=debian qemu-test/run-tests.sh

check-amd:
	RVFIO_IOMMU=amd qemu-test/run-tests.sh

MODULES ?= $(RVFIO_ROOT)
install:
	scripts/install.sh install $(MODULES)

uninstall:
	scripts/install.sh uninstall

demo:
	qemu-test/demo.sh

bench:
	qemu-test/bench.sh

bench-quick:
	qemu-test/bench.sh --quick
