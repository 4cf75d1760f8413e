// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_fuzz: a seeded, bounded, multi-threaded fuzzer of the VFIO uAPI (container, group and
 * vfio-pci device fds) with real devices bound: edu and igb (RVFIO_EDU_BDF, RVFIO_IGB_BDF,
 * exported by guest/with-vfio.sh), or with --iommu noiommu edu and the e1000e (RVFIO_EDU_BDF,
 * RVFIO_NIC_BDF, exported by sh/noiommu.sh). Only the uAPI is used, so it runs unchanged on
 * rvfio and on upstream's modules.
 *
 *   vfio_fuzz [--seed N] [--calls N] [--threads N] [--iommu v2|v1|both|noiommu]
 *             [--timeout S] [--chaos N] [--only OP,..] [--skip OP,..] [--common]
 *             [--record FILE] [--verbose]
 *   vfio_fuzz --diff FILE_A FILE_B
 *
 * VFIO_FUZZ_SEED, VFIO_FUZZ_CALLS, VFIO_FUZZ_THREADS and VFIO_FUZZ_TIMEOUT in the environment
 * override the options (so a suite line runs longer, or with a longer watchdog on a slow
 * kernel, from the guest's kernel command line, see below).
 *
 * Set-up: one container holding both groups (TYPE1v2, then a second phase on a fresh TYPE1
 * container: --calls is split between the phases), a spare container without groups, the
 * device fds and a few eventfds. --threads threads then issue --calls calls in total, each a
 * random or edge-case use of one uAPI entry point (the OPS table; --only/--skip select):
 * container, group and device ioctls with random argsz, flags, indexes and payloads; user
 * pointers that are misaligned, read-only, unmapped, kernel, non-canonical or straddling into
 * a guard page; MAP/UNMAP_DMA at the edges of the IOVA space and the MSI window, with
 * unmapped, read-only or BAR-mmap vaddrs, FLAG_ALL/VADDR/dirty-bitmap flags; SET_IRQS with
 * random index/start/count/flags and eventfd or bool payloads; pread/pwrite/mmap at region
 * edges (a SIGBUS on touch is caught: it is legal while memory decode is off); config-space
 * writes; where the kernel has iommufd, the devices' cdevs opened beside their groups (every
 * call -EINVAL before a bind, which never gets an iommufd and so never succeeds). Thread 0
 * also closes and reopens device, group, container and eventfd fds (one in
 * --chaos calls) while the others keep using the old numbers (those calls then fail, EBADF or
 * on another fd type, which is fine).
 *
 * Device safety: no call may make a device DMA or raise interrupts on its own. igb's (the
 * e1000e's) BARs are never written (only past their end, which must fail); edu's BAR0 only
 * outside STATUS, IRQ_RAISE and DMA_CMD; ioeventfds only where such a write is allowed (or the
 * NIC's MSI-X table, which must be refused). Config-space writes are random (COMMAND.MEM
 * off, D3hot, an FLR are all fine). BAR writes hold a per-fd read lock so they cannot land on
 * a reopened fd.
 *
 * Oracle (the run fails on any of these):
 *  - every call returns: a watchdog thread fails the run when one takes --timeout s (10);
 *  - clearly invalid calls fail with their errno (argsz < minsz, unknown flags, indexes
 *    beyond the device's, SET_CONTAINER of a closed fd, unknown ioctls, unaligned MAP_DMA,
 *    mmap of config space, ...; those that depend on the container/group state only with
 *    --threads 1) and MAPs of unmapped or (device-writable) read-only memory never succeed;
 *  - after each phase the fds still work: GET_INFO, a config read of the vendor id equal to
 *    sysfs, MAP+UNMAP of a page, an MSI-X (igb, e1000e) and MSI (edu) loopback interrupt;
 *  - after closing everything the pinned pages and VmLck are back to their baseline;
 *  - no signal other than a SIGBUS while touching a BAR mmap.
 * The guest runner adds: no splat in dmesg (and on the debug kernel KASAN, lockdep, UBSAN,
 * kmemleak).
 *
 * No-IOMMU mode (--iommu noiommu; a boot without an IOMMU, vfio.enable_unsafe_noiommu_mode on,
 * sh/noiommu.sh): one phase, the groups opened at /dev/vfio/noiommu-<id>, the container set to
 * VFIO_NOIOMMU_IOMMU (so CAP_SYS_RAWIO is needed: run as root). The op mix is the same (and
 * g_move: a group through the spare container and back, each step's errno checked), with the
 * oracle adapted: MAP/UNMAP_DMA, IOMMU_GET_INFO and DIRTY_PAGES are -ENOTTY on the set
 * container whatever their argument, -EINVAL before SET_IOMMU; SET_IOMMU of any other type
 * never succeeds (-ENODEV on a container holding a no-IOMMU group); CHECK_EXTENSION answers 1
 * for the no-IOMMU backend everywhere and 0 for type1 on a container holding a no-IOMMU
 * group. After the phase no MAP+UNMAP probe (the backend checked instead: it offers only
 * itself and maps nothing); the loopback interrupts, config reads and the pinned-page and
 * VmLck checks as above. Nothing is ever DMA-mapped here, and the devices' DMA addresses
 * would be physical: the device safety rules above are what keeps the machine safe.
 *
 * Cross-check against upstream: --record FILE writes one line per call (index, op, arguments,
 * result, output fields); --diff compares two records call by call and groups the
 * differences by op and errno pair. Each call draws from its own random stream and the memory
 * layout is fixed, so with --threads 1 a seed makes the same calls on both stacks.
 * --common leaves out what rvfio does not serve on purpose or yet (README: the low-power and
 * dma-buf features), fd-type confusion, and what it answers differently as known (config
 * writes from bad buffers; reads of a ROM while memory decode is off: rvfio enables decode
 * and reads it, upstream's pci_map_rom() finds no image, -ENOMEM: only the noiommu boot's
 * e1000e has a ROM); the two stacks must then agree on every call. sh/fuzz_diff.sh SEED
 * CALLS [OPTS] runs a seed on both stacks and diffs (the suite's fuzz_diff, with --common);
 * sh/noiommu_fuzz_diff.sh SEED CALLS [OPTS] does the same with --iommu noiommu in the
 * no-IOMMU boot (noiommu_fuzz_diff).
 *
 * The suite (selftests/tests.txt) runs 100k calls per stack with a fixed seed (printed; about
 * 20 s each in the TCG guest), and in the no-IOMMU boot 20k with --iommu noiommu per stack
 * (noiommu_fuzz, about 6 s each) and a 20k-call replay diffed (noiommu_fuzz_diff). A long
 * run of 1M calls on rvfio, from the worktree:
 *   RVFIO_OUTDIR=... qemu-test/run-tests.sh '^fuzz$'      (builds, and runs the short one)
 *   qemu-test/run-guest.sh -t 3600 -o $RVFIO_OUTDIR run-tests rvfio_filter='^fuzz$' \
 *       rvfio_test_timeout=3000 VFIO_FUZZ_CALLS=1000000 VFIO_FUZZ_SEED=7
 * or inside any guest shell: sh /guest/with-vfio.sh rvfio /tests/c/vfio_fuzz --calls 1000000
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_cdev_util.h"
#include "vfio_pci_util.h"

typedef uint64_t u64;
typedef uint32_t u32;
typedef uint8_t u8;

#define PG 4096ULL
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_THREADS 16
#define NEFD 6
#define SCRATCH_SIZE (128UL << 10)	/* per thread; the kernel writes < 70 KiB of it */
#define SCRATCH_OFF 64			/* where PK_OK structures go */
#define RO_SIZE (4 * PG)		/* per-thread read-only view of a memfd */
#define DMA_POOL_SIZE (16UL << 20)
#define RO_POOL_SIZE (1UL << 20)
#define HOLE_SIZE (1UL << 30)		/* reserved PROT_NONE: addresses that always fault */
#define MSI_WINDOW 0xfee00000ULL
#define KERNEL_ADDR 0xffff888000000000ULL
#define NONCANON 0x8000000000000000ULL
#define CLOSED_FD_BASE 900		/* fd numbers above this are never open */
#define EDU_BAR0_SIZE (1ULL << 20)

/*
 * The program is one translation unit (its sections share static state), kept in one file
 * per section under fuzz/, in this order.
 */
#include "fuzz/state.c"
#include "fuzz/memory.c"
#include "fuzz/watchdog.c"
#include "fuzz/menus.c"
#include "fuzz/container_ops.c"
#include "fuzz/group_ops.c"
#include "fuzz/device_ops.c"
#include "fuzz/churn.c"
#include "fuzz/op_table.c"
#include "fuzz/setup.c"
#include "fuzz/phase.c"
#include "fuzz/summary.c"

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	printf("usage: vfio_fuzz [--seed N] [--calls N] [--threads N]\n"
	       "                 [--iommu v2|v1|both|noiommu] [--timeout S] [--chaos N]\n"
	       "                 [--only OP,..] [--skip OP,..]\n"
	       "                 [--record FILE] [--common] [--verbose]\n"
	       "       vfio_fuzz --diff FILE_A FILE_B\n"
	       "calls:");
	for (int i = 0; i < NOPS; i++)
		printf(" %s", ops[i].name);
	printf("\n");
}

static int run_phase(int type, u64 calls, u64 *done)
{
	pthread_t wd;
	int fails;

	fx.iommu_type = type;
	fx.phase = type;
	for (int s = 0; s < NSLOTS; s++)
		slot_begin(s);
	if (build_all())
		return -1;
	for (int s = NSLOTS - 1; s >= 0; s--)
		slot_end(s);
	for (int i = 0; i < fx.ndev; i++) {
		struct fdev *d = &fx.dev[i];

		if (probe_device(d))
			return -1;
		/*
		 * PMCSR's Data_Select/Scale bits go to the device and survive its resets (in QEMU):
		 * start every phase from 0 there, so that a run does not see what the previous one
		 * (maybe on the other stack) wrote, and records of two runs compare.
		 */
		if (d->pm_cap)
			cfg_write(atomic_load(&fx.slots[d->slot].fd), d->pm_cap + PCI_PM_CTRL, 2, 0);
	}
	probe_iova_top();
	printf("vfio_fuzz: phase %s: %llu calls, %d threads, IOVA space up to %#llx\n",
	       type == VFIO_TYPE1v2_IOMMU ? "TYPE1v2" : type == VFIO_NOIOMMU_IOMMU ? "NOIOMMU" :
	       "TYPE1", (unsigned long long)calls, opt.threads, (unsigned long long)fx.iova_top);
	fflush(stdout);
	atomic_store(&fx.stop, 0);
	pthread_create(&wd, NULL, watchdog, NULL);
	for (int i = 0; i < opt.threads; i++) {
		thr[i].ncalls = calls / opt.threads + (i < (int)(calls % opt.threads));
		thr[i].done = 0;
		pthread_create(&thr[i].pt, NULL, thread_main, &thr[i]);
	}
	for (int i = 0; i < opt.threads; i++) {
		pthread_join(thr[i].pt, NULL);
		*done += thr[i].done;
	}
	/* The sanity sequence is a call too: the watchdog watches it as thread 0's. */
	cur = &thr[0];
	snprintf(thr[0].desc, sizeof(thr[0].desc), "sanity after phase");
	atomic_store(&thr[0].wd_start, mono_ms());
	if (atomic_load(&fx.config_dirty)) {
		printf("vfio_fuzz: a fuzz call changed the container configuration: rebuilding first\n");
		rebuild();
	}
	fails = sanity();
	atomic_store(&thr[0].wd_start, 0);
	atomic_store(&fx.stop, 1);
	pthread_join(wd, NULL);
	for (int s = 0; s < NSLOTS; s++)
		slot_begin(s);
	close_all();
	for (int s = NSLOTS - 1; s >= 0; s--)
		slot_end(s);
	return fails;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_NODEFER };
	long long pinned0, pinned, vmlck0, vmlck;
	pthread_rwlockattr_t rwa;
	u64 t0, done = 0;
	int fails = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--diff-context") && v) {
			diff_context = atoi(v);
			i++;
			continue;
		}
		if (!strcmp(a, "--diff") && i + 2 < argc)
			return diff_records(argv[i + 1], argv[i + 2]);
		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			opt.verbose++;
			continue;
		}
		if (!strcmp(a, "--common")) {
			opt.common = 1;
			continue;
		}
		if (!v) {
			usage();
			return 1;
		}
		i++;
		if (!strcmp(a, "--seed"))
			opt.seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--calls"))
			opt.calls = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--threads"))
			opt.threads = atoi(v);
		else if (!strcmp(a, "--timeout"))
			opt.timeout_s = atoi(v);
		else if (!strcmp(a, "--chaos"))
			opt.chaos = atoi(v);
		else if (!strcmp(a, "--record"))
			opt.record = v;
		else if (!strcmp(a, "--only"))
			opt.only = v;
		else if (!strcmp(a, "--skip"))
			opt.skip = v;
		else if (!strcmp(a, "--iommu") && !strcmp(v, "noiommu")) {
			opt.noiommu = 1;
			opt.iommu_v2 = opt.iommu_v1 = 0;
		} else if (!strcmp(a, "--iommu")) {
			opt.noiommu = 0;
			opt.iommu_v2 = strcmp(v, "v1") != 0;
			opt.iommu_v1 = strcmp(v, "v2") != 0;
		} else {
			usage();
			return 1;
		}
	}
	/*
	 * The environment overrides the command line, so that a suite line (tests.txt) runs
	 * longer or with another seed from the kernel command line (run-guest.sh KEY=VALUE).
	 */
	if (getenv("VFIO_FUZZ_SEED"))
		opt.seed = strtoull(getenv("VFIO_FUZZ_SEED"), NULL, 0);
	if (getenv("VFIO_FUZZ_CALLS"))
		opt.calls = strtoull(getenv("VFIO_FUZZ_CALLS"), NULL, 0);
	if (getenv("VFIO_FUZZ_THREADS"))
		opt.threads = atoi(getenv("VFIO_FUZZ_THREADS"));
	if (getenv("VFIO_FUZZ_TIMEOUT"))
		opt.timeout_s = atoi(getenv("VFIO_FUZZ_TIMEOUT"));
	if (opt.threads < 1 || opt.threads > MAX_THREADS || opt.timeout_s < 1) {
		usage();
		return 1;
	}
	fx.single = opt.threads == 1;
	if (opt.noiommu)
		ops[OP_g_move].weight = G_MOVE_WEIGHT;
	else if (!access("/dev/iommu", F_OK))
		ops[OP_d_cdev].weight = D_CDEV_WEIGHT;
	setup_weights();
	if (!op_total) {
		printf("vfio_fuzz: no calls selected\n");
		return 1;
	}
	/* noiommu: the boot without an IOMMU has the e1000e (sh/noiommu.sh) in igb's place. */
	if (add_device("edu", "RVFIO_EDU_BDF") ||
	    (opt.noiommu ? add_device("nic", "RVFIO_NIC_BDF") : add_device("igb", "RVFIO_IGB_BDF")))
		return 1;
	if (!fx.ndev) {
		printf("vfio_fuzz: SKIP: neither RVFIO_EDU_BDF nor %s is set\n",
		       opt.noiommu ? "RVFIO_NIC_BDF" : "RVFIO_IGB_BDF");
		return 4;
	}
	if (opt.record) {
		rec = fopen(opt.record, "w");
		if (!rec) {
			perror(opt.record);
			return 1;
		}
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (int s = 0; s < NSLOTS; s++) {
		atomic_init(&fx.slots[s].fd, -1);
		pthread_rwlock_init(&fx.slots[s].lock, &rwa);
	}
	pthread_mutex_init(&fx.chaos_lock, NULL);
	setup_memory();
	for (int i = 0; i < opt.threads; i++) {
		thr[i].id = i;
		thr[i].rng = opt.seed * 0x100000001b3ULL + i * 0x9e3779b97f4a7c15ULL + 1;
		setup_thread_memory(&thr[i]);
	}
	pinned0 = pinned_pages();
	vmlck0 = locked_vm_kib();
	printf("vfio_fuzz: seed %llu, %llu calls, %d threads, chaos 1/%d, timeout %d s, devices:",
	       (unsigned long long)opt.seed, (unsigned long long)opt.calls, opt.threads, opt.chaos,
	       opt.timeout_s);
	for (int i = 0; i < fx.ndev; i++)
		printf(" %s %s (group %d)", fx.dev[i].name, fx.dev[i].bdf, fx.grp[fx.dev[i].grp].id);
	printf("\n");

	t0 = mono_ms();
	if (opt.noiommu) {
		int r = run_phase(VFIO_NOIOMMU_IOMMU, opt.calls, &done);

		if (r < 0)
			fatal("set-up failed");
		fails += r;
	}
	for (int phase = 0; phase < 2; phase++) {
		int type = phase ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU;
		u64 calls = opt.iommu_v2 && opt.iommu_v1 ? (phase ? opt.calls / 2 : opt.calls -
							      opt.calls / 2) : opt.calls;
		int r;

		if ((phase == 0 && !opt.iommu_v2) || (phase == 1 && !opt.iommu_v1))
			continue;
		r = run_phase(type, calls, &done);
		if (r < 0)
			fatal("set-up failed");
		fails += r;
	}
	if (rec)
		fclose(rec);
	summary((mono_ms() - t0) / 1000.0, done);

	pinned = pinned_pages_settle(pinned0);
	vmlck = locked_vm_kib();
	printf("vfio_fuzz: pinned pages %lld (baseline %lld), VmLck %lld kB (baseline %lld)\n",
	       pinned, pinned0, vmlck, vmlck0);
	fails += check(pinned == pinned0, "pinned pages back to baseline");
	fails += check(vmlck == vmlck0, "VmLck back to baseline");
	if (atomic_load(&fx.violations)) {
		printf("vfio_fuzz: %llu invariant violations\n",
		       (unsigned long long)atomic_load(&fx.violations));
		fails++;
	}
	printf("vfio_fuzz: %s (seed %llu, %llu calls)\n", fails ? "FAIL" : "PASS",
	       (unsigned long long)opt.seed, (unsigned long long)done);
	return fails ? 1 : 0;
}
