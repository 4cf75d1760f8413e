// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_fuzz: a seeded, bounded, multi-threaded fuzzer of the VFIO uAPI (container, group and
 * vfio-pci device fds) with real devices bound: edu and igb (RVFIO_EDU_BDF, RVFIO_IGB_BDF,
 * exported by guest/with-vfio.sh). Only the uAPI is used, so it runs unchanged on rvfio and on
 * upstream's modules.
 *
 *   vfio_fuzz [--seed N] [--calls N] [--threads N] [--iommu v2|v1|both] [--timeout S]
 *             [--chaos N] [--only OP,..] [--skip OP,..] [--common] [--record FILE]
 *             [--verbose]
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
 * writes. Thread 0 also closes and reopens device, group, container and eventfd fds (one in
 * --chaos calls) while the others keep using the old numbers (those calls then fail, EBADF or
 * on another fd type, which is fine).
 *
 * Device safety: no call may make a device DMA or raise interrupts on its own. igb's BARs are
 * never written (only past their end, which must fail); edu's BAR0 only outside STATUS,
 * IRQ_RAISE and DMA_CMD; ioeventfds only where such a write is allowed (or igb's MSI-X table,
 * which must be refused). Config-space writes are random (COMMAND.MEM off, D3hot, an FLR are
 * all fine). BAR writes hold a per-fd read lock so they cannot land on a reopened fd.
 *
 * Oracle (the run fails on any of these):
 *  - every call returns: a watchdog thread fails the run when one takes --timeout s (10);
 *  - clearly invalid calls fail with their errno (argsz < minsz, unknown flags, indexes
 *    beyond the device's, SET_CONTAINER of a closed fd, unknown ioctls, unaligned MAP_DMA,
 *    mmap of config space, ...; those that depend on the container/group state only with
 *    --threads 1) and MAPs of unmapped or (device-writable) read-only memory never succeed;
 *  - after each phase the fds still work: GET_INFO, a config read of the vendor id equal to
 *    sysfs, MAP+UNMAP of a page, an MSI-X (igb) and MSI (edu) loopback interrupt;
 *  - after closing everything the pinned pages and VmLck are back to their baseline;
 *  - no signal other than a SIGBUS while touching a BAR mmap.
 * The guest runner adds: no splat in dmesg (and on the debug kernel KASAN, lockdep, UBSAN,
 * kmemleak).
 *
 * Cross-check against upstream: --record FILE writes one line per call (index, op, arguments,
 * result, output fields); --diff compares two records call by call and groups the
 * differences by op and errno pair. Each call draws from its own random stream and the memory
 * layout is fixed, so with --threads 1 a seed makes the same calls on both stacks.
 * --common leaves out what rvfio does not serve on purpose or yet (README: UPDATE_VADDR,
 * dirty tracking, low-power and dma-buf features) and fd-type
 * confusion; the two stacks must then agree on every call. sh/fuzz_diff.sh SEED CALLS [OPTS]
 * runs a seed on both stacks and diffs (the suite's fuzz_diff, with --common).
 *
 * The suite (selftests/tests.txt) runs 100k calls per stack with a fixed seed (printed; about
 * 20 s each in the TCG guest). A long run of 1M calls on rvfio, from the worktree:
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

/* ------------------------------------------------------------------ shared state */

/*
 * A fd slot: the fd number other threads use without locking, a generation (odd while the
 * chaos thread changes the slot) and a lock that writes to device BARs hold for reading.
 */
struct slot {
	atomic_int fd;
	atomic_uint gen;
	pthread_rwlock_t lock;
};

enum { SL_CONT, SL_CONT2, SL_GRP0, SL_GRP1, SL_DEV0, SL_DEV1, SL_EFD0, NSLOTS = SL_EFD0 + NEFD };

struct region {
	u64 size;
	u32 flags;
};

struct fdev {
	const char *name, *bdf;
	int is_edu;
	int grp;		/* index in fx.grp */
	int slot;		/* SL_DEV0 + i */
	u32 num_regions, num_irqs;
	struct region reg[VFIO_PCI_NUM_REGIONS];
	u32 irq_count[VFIO_PCI_NUM_IRQS];
	long long vendor;	/* from sysfs */
	u32 cfg_size;
	int ncaps;
	u32 caps[32];		/* config offsets of the capabilities */
	int msix_bar;
	u64 msix_off, msix_size;
	u32 pm_cap;		/* 0 if none */
};

struct grp {
	int id;
	int slot;
	char path[32];
};

static struct {
	int iommu_type;
	int phase;
	int single;			/* one thread: state-dependent invariants hold */
	struct slot slots[NSLOTS];
	struct fdev dev[2];
	int ndev;
	struct grp grp[2];
	int ngrp;
	u8 *dma_pool, *ro_anon, *ro_file, *hole;
	int nullfd;
	u64 iova_top;			/* last IOVA of the last IOVA range */
	atomic_int config_dirty;	/* a fuzz call changed container/group configuration */
	pthread_mutex_t chaos_lock;
	atomic_int stop;
	atomic_ullong violations;
} fx;

static struct {
	u64 seed, calls;
	int threads, timeout_s, verbose, chaos;
	const char *record;
	const char *only, *skip;
	int common;
	int iommu_v2, iommu_v1;
} opt = { .seed = 1, .calls = 20000, .threads = 4, .timeout_s = 10, .chaos = 1500,
	  .iommu_v2 = 1, .iommu_v1 = 1 };

static FILE *rec;

/* ------------------------------------------------------------------ per-thread state */

struct thr;
typedef int (*op_fn)(struct thr *t);

#define NERR 140	/* errno buckets; 0 = success, NERR-1 = anything larger */

struct thr {
	int id;
	pthread_t pt;
	pid_t tid;
	u64 rng;
	u64 ncalls, done;
	u8 *scratch;		/* SCRATCH_SIZE, a PROT_NONE guard page after it */
	u8 *rw_view, *ro_view;	/* the same memfd pages, writable and read-only */
	atomic_ullong wd_start;	/* ms; 0 when not in a call */
	atomic_int wd_op;
	char desc[480];
	char out[160];
	long long val;		/* a successful call's return value, when interesting */
	int has_val;
	u64 (*stats)[NERR];
	u64 lat_max;
	int lat_max_op;
	char lat_max_desc[480];
	u64 touch_ok, touch_sigbus;
	volatile int in_touch;
	sigjmp_buf jb;
};

static __thread struct thr *cur;
static struct thr thr[MAX_THREADS];

/* ------------------------------------------------------------------ randomness */

static u64 rnd(struct thr *t)
{
	/* splitmix64 */
	u64 z = (t->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u64 rn(struct thr *t, u64 n)
{
	return n ? rnd(t) % n : 0;
}

static int chance(struct thr *t, int pct)
{
	return (int)rn(t, 100) < pct;
}

#define PICK(t, ...) ({ const u64 __a[] = { __VA_ARGS__ }; __a[rn(t, ARRAY_SIZE(__a))]; })

/* ------------------------------------------------------------------ output helpers */

static void desc(struct thr *t, const char *fmt, ...)
{
	va_list ap;
	size_t len = strlen(t->desc);

	va_start(ap, fmt);
	vsnprintf(t->desc + len, sizeof(t->desc) - len, fmt, ap);
	va_end(ap);
}

static void out(struct thr *t, const char *fmt, ...)
{
	va_list ap;
	size_t len = strlen(t->out);

	va_start(ap, fmt);
	vsnprintf(t->out + len, sizeof(t->out) - len, fmt, ap);
	va_end(ap);
}

static const char *errname(int e)
{
	static __thread char buf[16];
	const char *n;

	if (!e)
		return "ok";
	n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static const char *op_name(int op);
static void fatal(const char *what);

/* An invariant of a clearly invalid call did not hold. */
static void violation(struct thr *t, int got, int want, const char *why)
{
	u64 n = atomic_fetch_add(&fx.violations, 1);

	if (n < 40)
		printf("vfio_fuzz: INVARIANT (%s): %s %s: got %s, want %s\n", why,
		       op_name(atomic_load(&t->wd_op)), t->desc, errname(got), errname(want));
}

/* Checks that @got is @want when @cond (the call was clearly invalid and the fd stable). */
static void expect(struct thr *t, int cond, int got, int want, const char *why)
{
	if (cond && got != want)
		violation(t, got, want, why);
}

/* ------------------------------------------------------------------ memory */

static void *map_or_die(size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		perror("vfio_fuzz: mmap");
		exit(1);
	}
	return p;
}

/*
 * One arena, so that what lies around each pool is the same in every run (records of two
 * runs compare): 2 MiB guard, the read-only anonymous pool, guard, the read-only file pool,
 * guard, the DMA pool (2 MiB aligned: THP-backed where the kernel can), 2 MiB guard, and per
 * thread a window for BAR mmaps with a guard after it. Guards are PROT_NONE.
 */
#define ARENA_RO_ANON (2UL << 20)
#define ARENA_RO_FILE (4UL << 20)
#define ARENA_POOL (6UL << 20)
#define ARENA_BARWIN (ARENA_POOL + DMA_POOL_SIZE + (2UL << 20))
#define BARWIN_SIZE (4UL << 20)	/* a BAR mmap (up to 1 MiB here) and its guard */
#define ARENA_SIZE (ARENA_BARWIN + MAX_THREADS * BARWIN_SIZE)

static u8 *arena;

static void setup_memory(void)
{
	u8 *p;
	int mfd;

	p = map_or_die(ARENA_SIZE + (2UL << 20), PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	arena = (u8 *)(((uintptr_t)p + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	fx.dma_pool = arena + ARENA_POOL;
	if (mprotect(fx.dma_pool, DMA_POOL_SIZE, PROT_READ | PROT_WRITE))
		exit(1);
	madvise(fx.dma_pool, DMA_POOL_SIZE, MADV_HUGEPAGE);
	memset(fx.dma_pool, 0x5a, DMA_POOL_SIZE);
	/* Read-only anonymous memory, never written (the zero page). */
	fx.ro_anon = mmap(arena + ARENA_RO_ANON, RO_POOL_SIZE, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	/* Read-only shared file pages. */
	mfd = memfd_create("vfio_fuzz_ro", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, RO_POOL_SIZE))
		exit(1);
	fx.ro_file = mmap(arena + ARENA_RO_FILE, RO_POOL_SIZE, PROT_READ,
			  MAP_SHARED | MAP_POPULATE | MAP_FIXED, mfd, 0);
	close(mfd);
	if (fx.ro_anon == MAP_FAILED || fx.ro_file == MAP_FAILED)
		exit(1);
	fx.hole = map_or_die(HOLE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	fx.nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
}

/* Thread @t's window for BAR mmaps. */
static u8 *bar_window(struct thr *t)
{
	return arena + ARENA_BARWIN + t->id * BARWIN_SIZE;
}

/* Gives the window back to the arena's PROT_NONE reservation. */
static void bar_window_reset(struct thr *t)
{
	if (mmap(bar_window(t), BARWIN_SIZE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		fatal("cannot re-reserve the BAR window");
}

/* ------------------------------------------------------------------ fd slots */

struct fdref {
	int fd;
	int slot;		/* -1: not from a slot */
	unsigned int gen;
};

static struct fdref ref(int slot)
{
	struct fdref r = { .slot = slot };

	r.gen = atomic_load(&fx.slots[slot].gen);
	r.fd = atomic_load(&fx.slots[slot].fd);
	return r;
}

/* The fd referred to the same open file for the whole call. */
static int stable(struct fdref r)
{
	return r.slot >= 0 && !(r.gen & 1) && r.fd >= 0 &&
	       atomic_load(&fx.slots[r.slot].gen) == r.gen;
}

static int slot_is_container(int s) { return s == SL_CONT || s == SL_CONT2; }
static int slot_is_group(int s) { return s == SL_GRP0 || s == SL_GRP1; }

/* Any slot, for type confusion (not in --common runs: other fds' ioctls differ). */
static struct fdref any_ref(struct thr *t, int own)
{
	return ref(opt.common ? own : (int)rn(t, NSLOTS));
}

static void slot_begin(int s)
{
	pthread_rwlock_wrlock(&fx.slots[s].lock);
	atomic_fetch_add(&fx.slots[s].gen, 1);
}

static void slot_set(int s, int fd)
{
	atomic_store(&fx.slots[s].fd, fd);
}

static void slot_close(int s)
{
	int fd = atomic_exchange(&fx.slots[s].fd, -1);

	if (fd >= 0)
		close(fd);
}

static void slot_end(int s)
{
	atomic_fetch_add(&fx.slots[s].gen, 1);
	pthread_rwlock_unlock(&fx.slots[s].lock);
}

/* ------------------------------------------------------------------ user pointers */

enum pk { PK_OK, PK_MISALIGNED, PK_RO, PK_STRADDLE, PK_UNMAPPED, PK_KERNEL, PK_NULL,
	  PK_NONCANON, NPK };
static const char *const pk_name[NPK] = { "ok", "misaligned", "ro", "straddle", "unmapped",
					 "kernel", "null", "noncanon" };

static int pick_pk(struct thr *t, int pct_ok)
{
	if (chance(t, pct_ok))
		return PK_OK;
	return 1 + rn(t, NPK - 1);
}

/* Memory the kernel may read and write through a pointer of this kind. */
static int pk_valid(int k)
{
	return k == PK_OK || k == PK_MISALIGNED;
}

/*
 * Puts the @len bytes of @src where a pointer of kind @k points and returns the pointer.
 * Only PK_OK and PK_MISALIGNED point at writable memory (the thread's scratch, with room for
 * anything the kernel writes back); PK_RO can be read; PK_STRADDLE has its first part
 * readable and the rest in a guard page.
 */
static void *place(struct thr *t, int k, const void *src, size_t len)
{
	u8 *p;
	size_t cut;

	switch (k) {
	case PK_OK:
		p = t->scratch + SCRATCH_OFF;
		break;
	case PK_MISALIGNED:
		p = t->scratch + SCRATCH_OFF + 1 + rn(t, 7);
		break;
	case PK_RO:
		if (src && len)
			memcpy(t->rw_view, src, len < RO_SIZE ? len : RO_SIZE);
		return t->ro_view;
	case PK_STRADDLE:
		cut = len > 1 ? 1 + rn(t, len - 1) : 0;
		p = t->scratch + SCRATCH_SIZE - cut;
		if (src && cut)
			memcpy(p, src, cut);
		return p;
	case PK_UNMAPPED:
		return fx.hole + (rn(t, HOLE_SIZE / 2) & ~7ULL);
	case PK_KERNEL:
		return (void *)(uintptr_t)(KERNEL_ADDR + (rn(t, 1ULL << 30) & ~7ULL));
	case PK_NULL:
		return (void *)(uintptr_t)PICK(t, 0, 8, 4096 - 4);
	default:
		return (void *)(uintptr_t)(NONCANON + (rn(t, 1ULL << 30) & ~7ULL));
	}
	if (len > SCRATCH_SIZE - SCRATCH_OFF - 8)
		len = SCRATCH_SIZE - SCRATCH_OFF - 8;
	if (src && len)
		memcpy(p, src, len);
	return p;
}

/* argsz: mostly right, else 0, short, minsz, a little or a lot longer, huge. */
static u32 pick_argsz(struct thr *t, u32 real, u32 minsz)
{
	switch (rn(t, 20)) {
	case 0: return 0;
	case 1: return minsz ? minsz - 1 : 0;
	case 2: return rn(t, minsz + 1);
	case 3: return minsz;
	case 4: return real + 1 + rn(t, 64);
	case 5: return 0xffffffff;
	case 6: return 0x80000000 | (u32)rnd(t);
	case 7: return real + 4096;
	default: return real;
	}
}

/* ------------------------------------------------------------------ watchdog, signals */

static u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void print_proc(pid_t tid, const char *what)
{
	char path[96], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		printf("vfio_fuzz:   %s: %s%s", what, buf, buf[n - 1] == '\n' ? "" : "\n");
	}
}

static void *watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&fx.stop)) {
		u64 now = mono_ms();

		for (int i = 0; i < opt.threads; i++) {
			u64 start = atomic_load(&thr[i].wd_start);

			/* (A call may have started after @now was taken.) */
			if (!start || start > now || now - start < (u64)opt.timeout_s * 1000)
				continue;
			printf("vfio_fuzz: WATCHDOG: thread %d stuck for %llu ms in call %llu: %s %s (seed %llu)\n",
			       i, (unsigned long long)(now - start),
			       (unsigned long long)thr[i].done,
			       op_name(atomic_load(&thr[i].wd_op)), thr[i].desc,
			       (unsigned long long)opt.seed);
			for (int j = 0; j < opt.threads; j++) {
				if (!atomic_load(&thr[j].wd_start))
					continue;
				printf("vfio_fuzz:  thread %d (tid %d) in %s %s\n", j, thr[j].tid,
				       op_name(atomic_load(&thr[j].wd_op)), thr[j].desc);
				print_proc(thr[j].tid, "wchan");
				print_proc(thr[j].tid, "syscall");
				print_proc(thr[j].tid, "stack");
			}
			printf("vfio_fuzz: FAIL: a call did not return within %d s\n", opt.timeout_s);
			fflush(stdout);
			_exit(1);
		}
		usleep(100000);
	}
	return NULL;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (cur && cur->in_touch && sig == SIGBUS) {
		cur->in_touch = 0;
		siglongjmp(cur->jb, sig);
	}
	/* Not async-signal-safe, but we are about to die anyway. */
	fprintf(stdout, "vfio_fuzz: FAIL: signal %d (addr %p) in thread %d during %s %s (seed %llu)\n",
		sig, si->si_addr, cur ? cur->id : -1,
		cur ? op_name(atomic_load(&cur->wd_op)) : "?", cur ? cur->desc : "",
		(unsigned long long)opt.seed);
	fflush(stdout);
	_exit(1);
}

/*
 * Reads (and for edu's harmless registers writes) a device mapping; SIGBUS is legal (memory
 * decode off, D3hot, reset in progress). Returns 0 or the signal.
 */
static int touch(struct thr *t, volatile u8 *p, u64 len, long long write_off)
{
	int sig;
	u32 v = 0;

	t->in_touch = 1;
	sig = sigsetjmp(t->jb, 1);
	if (sig) {
		t->touch_sigbus++;
		return sig;
	}
	v += *(volatile u32 *)p;
	if (len >= 8)
		v += *(volatile u32 *)(p + ((len - 4) & ~3ULL));
	if (len >= 8)
		v += *(volatile u32 *)(p + (rn(t, len - 4) & ~3ULL));
	if (write_off >= 0 && (u64)write_off + 4 <= len)
		*(volatile u32 *)(p + write_off) = (u32)rnd(t) ^ v;
	t->in_touch = 0;
	t->touch_ok++;
	return 0;
}

/* ------------------------------------------------------------------ device helpers */

static struct fdev *pick_dev(struct thr *t)
{
	return &fx.dev[rn(t, fx.ndev)];
}

/* The region index's byte offset in the device fd. */
static u64 region_off(u64 index)
{
	return index << 40;	/* VFIO_PCI_OFFSET_SHIFT */
}

/* A region index: mostly real ones, sometimes past the end or absurd. */
static u64 pick_index(struct thr *t)
{
	if (chance(t, 85))
		return rn(t, VFIO_PCI_NUM_REGIONS);
	return PICK(t, 9, 10, 31, 63, 64, 255, 1000, (1ULL << 23) - 1, rn(t, 1ULL << 23));
}

static u64 region_size(struct fdev *d, u64 index)
{
	return index < VFIO_PCI_NUM_REGIONS ? d->reg[index].size : 0;
}

/* An offset in a region of @size: its edges, inside it, past it. */
static u64 pick_offset(struct thr *t, u64 size, int aligned)
{
	u64 off;

	switch (rn(t, 16)) {
	case 0: off = 0; break;
	case 1: off = rn(t, 8); break;
	case 2: off = size ? size - 1 : 0; break;
	case 3: off = size >= 4 ? size - 4 : 0; break;
	case 4: off = size >= 8 ? size - 8 : 0; break;
	case 5: off = size; break;
	case 6: off = size + rn(t, 16); break;
	case 7: off = size + PG; break;
	case 8: off = PICK(t, 1ULL << 39, (1ULL << 40) - 1, (1ULL << 40) - 4); break;
	case 9: off = size >= PG ? size - PG : 0; break;
	default: off = size ? rn(t, size) : rn(t, 64); break;
	}
	if (aligned)
		off &= ~3ULL;
	return off;
}

static u64 pick_len(struct thr *t)
{
	if (chance(t, 80))
		return PICK(t, 1, 2, 4, 4, 4, 8, 8, 0, 3, 5, 6, 7, 9);
	return PICK(t, 16, 64, 256, 4096, 65536, rn(t, 512));
}

/*
 * Whether writing [off, off + len) of region @index of @d cannot make the device DMA or
 * raise an interrupt: igb's BARs never (only past their end), edu's BAR0 outside STATUS,
 * IRQ_RAISE and DMA_CMD. Config, ROM and other regions are always allowed.
 */
static int write_safe(struct fdev *d, u64 index, u64 off, u64 len)
{
	static const u64 edu_bad[][2] = {
		{ EDU_REG_STATUS, EDU_REG_STATUS + 4 },
		{ EDU_REG_IRQ_RAISE, EDU_REG_IRQ_RAISE + 4 },
		{ EDU_REG_DMA_CMD, EDU_REG_DMA_CMD + 8 },
	};

	if (index > VFIO_PCI_BAR5_REGION_INDEX)
		return 1;
	if (off >= d->reg[index].size)
		return 1;
	if (!d->is_edu || index != 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(edu_bad); i++)
		if (off < edu_bad[i][1] && off + len > edu_bad[i][0])
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ IOVA/vaddr menus */

static u64 pick_iova(struct thr *t)
{
	switch (rn(t, 40)) {
	case 0: return 0;
	case 1: return MSI_WINDOW + PG * (rn(t, 3) - 1);
	case 2: return MSI_WINDOW - PG;
	case 3: return fx.iova_top + 1 - PG;
	case 4: return fx.iova_top + 1 - PG * PICK(t, 2, 16, 512);
	case 5: return fx.iova_top + 1;
	case 6: return PICK(t, 1ULL << 48, 1ULL << 63, ~0ULL - PG + 1, ~0ULL);
	case 7: case 8: return PG * rn(t, 8192) + 1 + rn(t, PG - 1);	/* unaligned */
	case 9: return (rnd(t) & ((1ULL << 47) - 1)) & ~(PG - 1);
	case 10: case 11: case 12: case 13: return (1ULL << 30) + PG * rn(t, 4096);
	default: return PG * rn(t, 8192);		/* 32 MiB window: overlaps */
	}
}

static u64 pick_size(struct thr *t)
{
	switch (rn(t, 40)) {
	case 0: case 1: return 0;
	case 2: return PG - 1;
	case 3: return 1 + rn(t, 4 * PG);
	case 4: return PICK(t, 1ULL << 63, ~0ULL, ~0ULL - PG + 1, 1ULL << 48);
	case 5: return DMA_POOL_SIZE;
	case 6: case 7: return PICK(t, 2ULL << 20, 4ULL << 20);
	case 8: case 9: case 10: case 11: return PG * (1 + rn(t, 512));
	case 12: return DMA_POOL_SIZE + PG;
	default: return PG * (1 + rn(t, 16));
	}
}

/*
 * A vaddr for @size bytes; *what names the kind, *base what the description prints it
 * relative to (0: absolute), so that records of two runs compare.
 */
static u64 pick_vaddr(struct thr *t, u64 size, const char **what, u64 *base)
{
	u64 pool_pages = DMA_POOL_SIZE / PG;
	u64 pages = size / PG;
	u64 pool = (uintptr_t)fx.dma_pool;

	*base = pool;
	switch (rn(t, 40)) {
	case 0: case 1:
		*what = "ro_anon";
		*base = (uintptr_t)fx.ro_anon;
		return *base + PG * rn(t, 16);
	case 2: case 3:
		*what = "ro_file";
		*base = (uintptr_t)fx.ro_file;
		return *base + PG * rn(t, 16);
	case 4: case 5:
		*what = "hole";
		*base = (uintptr_t)fx.hole;
		return *base + PG * rn(t, 1024);
	case 6: *base = 0; *what = "kernel"; return KERNEL_ADDR + PG * rn(t, 1024);
	case 7: *base = 0; *what = "noncanon"; return NONCANON;
	case 8: *base = 0; *what = "null"; return 0;
	case 9: *base = 0; *what = "top"; return 0x7ffffffff000ULL - PG * rn(t, 4);
	case 10: *base = 0; *what = "wrap"; return ~0ULL - PG * (1 + rn(t, 4)) + 1;
	case 11: *what = "pool_end"; return pool + DMA_POOL_SIZE - PG;
	case 12: case 13: *what = "pool_unaligned"; return pool + 1 + rn(t, DMA_POOL_SIZE - 1);
	case 14: *what = "pool_2m"; return pool + (2ULL << 20) * rn(t, DMA_POOL_SIZE >> 21);
	default:
		*what = "pool";
		if (pages >= pool_pages)
			return pool;
		return pool + PG * rn(t, pool_pages - pages);
	}
}

/* ------------------------------------------------------------------ container ops */

static struct fdref pick_container(struct thr *t)
{
	int r = rn(t, 100);

	if (r < 85)
		return ref(SL_CONT);
	if (r < 95)
		return ref(SL_CONT2);
	return any_ref(t, SL_CONT);
}

static int result(struct thr *t, long ret)
{
	if (ret < 0)
		return errno;
	t->val = ret;
	t->has_val = ret != 0;
	return 0;
}

static int op_c_version(struct thr *t)
{
	struct fdref c = pick_container(t);
	u64 arg = chance(t, 50) ? 0 : rnd(t);
	int res;

	desc(t, "fd=%d/%d", c.fd, c.slot);
	res = result(t, ioctl(c.fd, VFIO_GET_API_VERSION, arg));
	if (stable(c) && slot_is_container(c.slot) && (res || t->val != VFIO_API_VERSION))
		violation(t, res, 0, "GET_API_VERSION is 0");
	return res;
}

static int op_c_check_ext(struct thr *t)
{
	struct fdref c = pick_container(t);
	u64 ext = chance(t, 70) ? rn(t, 13) : PICK(t, rnd(t), (u32)rnd(t), ~0ULL, 1ULL << 32 | 3);
	int res;

	if (opt.common && ext == VFIO_UPDATE_VADDR)
		ext = VFIO_UNMAP_ALL;

	desc(t, "fd=%d/%d ext=%#llx", c.fd, c.slot, (unsigned long long)ext);
	res = result(t, ioctl(c.fd, VFIO_CHECK_EXTENSION, ext));
	out(t, "%lld", res ? -1LL : t->val);
	if (stable(c) && slot_is_container(c.slot)) {
		expect(t, 1, res, 0, "CHECK_EXTENSION never fails");
		if (!res && t->val != 0 && t->val != 1)
			violation(t, res, 0, "CHECK_EXTENSION answers 0 or 1");
		if (!res && ext > 10 && t->val)
			violation(t, res, 0, "unknown extension answers 0");
		if (!res && (ext == VFIO_TYPE1_IOMMU || ext == VFIO_TYPE1v2_IOMMU ||
			     ext == VFIO_UNMAP_ALL) && t->val != 1)
			violation(t, res, 0, "type1 extensions answer 1");
	}
	return res;
}

static int op_c_set_iommu(struct thr *t)
{
	struct fdref c = pick_container(t);
	u64 type = chance(t, 80) ? rn(t, 13) : PICK(t, rnd(t), ~0ULL, 1ULL << 32 | 3);
	int dirty = atomic_load(&fx.config_dirty);
	int res;

	desc(t, "fd=%d/%d type=%#llx", c.fd, c.slot, (unsigned long long)type);
	res = result(t, ioctl(c.fd, VFIO_SET_IOMMU, type));
	if (!res && slot_is_container(c.slot))
		atomic_store(&fx.config_dirty, 1);
	/* The main container has its IOMMU, the spare one no group. */
	expect(t, fx.single && !dirty && stable(c) && slot_is_container(c.slot), res, EINVAL,
	       "SET_IOMMU on a set or group-less container");
	return res;
}

static int op_c_get_info(struct thr *t)
{
	struct fdref c = pick_container(t);
	struct vfio_iommu_type1_info info;
	u32 minsz = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
	int k = pick_pk(t, 80);
	struct vfio_iommu_type1_info *p;
	int res;

	memset(&info, 0, sizeof(info));
	info.argsz = pick_argsz(t, sizeof(info) + (chance(t, 50) ? 256 : 0), minsz);
	if (chance(t, 20)) {
		info.flags = rnd(t);
		info.cap_offset = rnd(t);
	}
	p = place(t, k, &info, sizeof(info));
	desc(t, "fd=%d/%d argsz=%u ptr=%s", c.fd, c.slot, info.argsz, pk_name[k]);
	res = result(t, ioctl(c.fd, VFIO_IOMMU_GET_INFO, p));
	if (!stable(c) || !slot_is_container(c.slot) || !pk_valid(k))
		return res;
	expect(t, info.argsz < minsz, res, EINVAL, "argsz < minsz");
	if (!res && info.argsz >= minsz) {
		out(t, "flags=%#x argsz=%u pgsizes=%#llx", p->flags, p->argsz,
		    (unsigned long long)p->iova_pgsizes);
		if (info.argsz >= sizeof(*p))
			out(t, " cap_offset=%u", p->cap_offset);
		if (!(p->flags & VFIO_IOMMU_INFO_PGSIZES))
			violation(t, res, 0, "GET_INFO reports PGSIZES");
	}
	return res;
}

static u32 pick_map_flags_all(struct thr *t);

static u32 pick_map_flags(struct thr *t)
{
	/* --common: no FLAG_VADDR (VFIO_UPDATE_VADDR), which rvfio does not offer. */
	if (opt.common)
		return pick_map_flags_all(t) & ~VFIO_DMA_MAP_FLAG_VADDR;
	return pick_map_flags_all(t);
}

static u32 pick_map_flags_all(struct thr *t)
{
	switch (rn(t, 20)) {
	case 0: return VFIO_DMA_MAP_FLAG_READ;
	case 1: return VFIO_DMA_MAP_FLAG_WRITE;
	case 2: return 0;
	case 3: return VFIO_DMA_MAP_FLAG_VADDR;
	case 4: return VFIO_DMA_MAP_FLAG_VADDR | VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	case 5: return (u32)rnd(t);
	case 6: return 1U << (3 + rn(t, 29)) | VFIO_DMA_MAP_FLAG_READ;
	default: return VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	}
}

/* MAP_DMA of @vaddr (already chosen) or a picked one; the argument checks all stacks share. */
static int do_map(struct thr *t, struct fdref c, u64 vaddr, const char *vwhat, u64 vbase,
		  u64 iova, u64 size, u32 flags)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = flags, .vaddr = vaddr, .iova = iova, .size = size,
	};
	u32 minsz = offsetofend(struct vfio_iommu_type1_dma_map, size);
	int dirty = atomic_load(&fx.config_dirty);
	int k = PK_OK;
	void *p;
	int res;
	u64 end;
	int overflow;

	if (chance(t, 10))
		m.argsz = pick_argsz(t, sizeof(m), minsz);
	if (chance(t, 5))
		k = pick_pk(t, 0);
	p = place(t, k, &m, sizeof(m));
	desc(t, "fd=%d/%d argsz=%u flags=%#x vaddr=%s+%#llx iova=%#llx size=%#llx ptr=%s", c.fd,
	     c.slot, m.argsz, flags, vwhat, (unsigned long long)(vaddr - vbase),
	     (unsigned long long)iova, (unsigned long long)size, pk_name[k]);
	res = result(t, ioctl(c.fd, VFIO_IOMMU_MAP_DMA, p));
	if (!stable(c) || !slot_is_container(c.slot) || !pk_valid(k))
		return res;
	overflow = size && (__builtin_add_overflow(iova, size - 1, &end) ||
			    __builtin_add_overflow(vaddr, size - 1, &end));
	if (m.argsz < minsz) {
		expect(t, 1, res, EINVAL, "argsz < minsz");
	} else if (flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |
			     VFIO_DMA_MAP_FLAG_VADDR)) {
		expect(t, 1, res, EINVAL, "unknown MAP flags");
	} else if (!size) {
		expect(t, 1, res, EINVAL, "size 0");
	} else if (overflow) {
		/*
		 * Without an IOMMU set every MAP is -EINVAL; rvfio refuses FLAG_VADDR (no
		 * VFIO_UPDATE_VADDR) before looking at the range.
		 */
		expect(t, fx.single && !dirty && c.slot == SL_CONT &&
		       !(flags & VFIO_DMA_MAP_FLAG_VADDR), res, EOVERFLOW, "iova/vaddr + size wraps");
	} else if ((size | iova | vaddr) & (PG - 1)) {
		expect(t, 1, res, EINVAL, "unaligned iova/size/vaddr");
	} else if (!(flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) &&
		   !(flags & VFIO_DMA_MAP_FLAG_VADDR)) {
		expect(t, 1, res, EINVAL, "no READ/WRITE");
	} else if (!strcmp(vwhat, "hole") || !strcmp(vwhat, "kernel") ||
		   !strcmp(vwhat, "noncanon") || !strcmp(vwhat, "null")) {
		if (!res && !(flags & VFIO_DMA_MAP_FLAG_VADDR))
			violation(t, res, EFAULT, "MAP of an unmapped vaddr");
	} else if (!strncmp(vwhat, "ro_", 3) && (flags & VFIO_DMA_MAP_FLAG_WRITE) &&
		   !(flags & VFIO_DMA_MAP_FLAG_VADDR)) {
		if (!res)
			violation(t, res, EFAULT, "device-writable MAP of a read-only vaddr");
	}
	return res;
}

static int op_c_map(struct thr *t)
{
	struct fdref c = pick_container(t);
	u64 size = pick_size(t);
	const char *vwhat;
	u64 vbase;
	u64 vaddr = pick_vaddr(t, size, &vwhat, &vbase);
	u64 iova = pick_iova(t);
	u32 flags = pick_map_flags(t);

	if (!strncmp(vwhat, "ro_", 3) && chance(t, 50))
		flags = VFIO_DMA_MAP_FLAG_READ;
	return do_map(t, c, vaddr, vwhat, vbase, iova, size, flags);
}

static int do_unmap(struct thr *t, struct fdref c, u64 iova, u64 size, u32 flags,
		    struct vfio_bitmap *bm)
{
	struct {
		struct vfio_iommu_type1_dma_unmap u;
		struct vfio_bitmap b;
	} arg;
	u32 minsz = offsetofend(struct vfio_iommu_type1_dma_unmap, size);
	int dirty = atomic_load(&fx.config_dirty);
	int k = PK_OK;
	struct vfio_iommu_type1_dma_unmap *p;
	int res;

	memset(&arg, 0, sizeof(arg));
	arg.u.argsz = bm ? sizeof(arg) : sizeof(arg.u);
	arg.u.flags = flags;
	arg.u.iova = iova;
	arg.u.size = size;
	if (bm)
		arg.b = *bm;
	if (chance(t, 10))
		arg.u.argsz = pick_argsz(t, arg.u.argsz, minsz);
	if (chance(t, 5))
		k = pick_pk(t, 0);
	p = place(t, k, &arg, sizeof(arg));
	desc(t, "fd=%d/%d argsz=%u flags=%#x iova=%#llx size=%#llx ptr=%s", c.fd, c.slot,
	     arg.u.argsz, flags, (unsigned long long)iova, (unsigned long long)size, pk_name[k]);
	if (bm)
		desc(t, " bitmap{pgsize=%#llx size=%#llx}", (unsigned long long)bm->pgsize,
		     (unsigned long long)bm->size);
	res = result(t, ioctl(c.fd, VFIO_IOMMU_UNMAP_DMA, p));
	if (!res && pk_valid(k))
		out(t, "unmapped=%#llx", (unsigned long long)p->size);
	if (!stable(c) || !slot_is_container(c.slot) || !pk_valid(k))
		return res;
	if (arg.u.argsz < minsz)
		expect(t, 1, res, EINVAL, "argsz < minsz");
	else if (flags & ~(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL |
			   VFIO_DMA_UNMAP_FLAG_VADDR))
		expect(t, 1, res, EINVAL, "unknown UNMAP flags");
	else if ((flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
		 (flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)))
		expect(t, 1, res, EINVAL, "DIRTY_BITMAP with ALL or VADDR");
	else if (iova & (PG - 1))
		expect(t, 1, res, EINVAL, "unaligned iova");
	else if ((flags & VFIO_DMA_UNMAP_FLAG_ALL) && (iova || size))
		expect(t, 1, res, EINVAL, "UNMAP ALL with a range");
	else if (!(flags & VFIO_DMA_UNMAP_FLAG_ALL) && (!size || (size & (PG - 1))))
		expect(t, 1, res, EINVAL, "size 0 or unaligned");
	else if (flags == VFIO_DMA_UNMAP_FLAG_ALL)
		expect(t, fx.single && !dirty && c.slot == SL_CONT, res, 0, "UNMAP ALL");
	return res;
}

static struct vfio_bitmap pick_bitmap(struct thr *t, u64 range_size)
{
	struct vfio_bitmap b;
	u64 need = ((range_size / PG + 63) / 64) * 8;
	int k;

	/*
	 * Never 0: upstream takes __ffs(0) of it and shifts by the result, 64
	 * (vfio_iommu_type1_unmap_dma() and _dirty_pages(): UBSAN shift-out-of-bounds on the
	 * debug kernel), which would fail every upstream run there.
	 */
	b.pgsize = chance(t, 70) ? PG : PICK(t, 1, 2, 2ULL << 20, rnd(t) | 1);
	b.size = chance(t, 70) ? need : PICK(t, 0, 1, need - 8, need + 8, 1ULL << 40, rnd(t));
	k = pick_pk(t, 70);
	if (k == PK_OK && b.size <= SCRATCH_SIZE / 4)
		b.data = (void *)(t->scratch + SCRATCH_SIZE / 2);
	else if (k == PK_OK || k == PK_MISALIGNED || k == PK_STRADDLE)
		b.data = (void *)fx.hole;
	else
		b.data = (void *)place(t, k, NULL, 0);
	return b;
}

static int op_c_unmap(struct thr *t)
{
	struct fdref c = pick_container(t);
	u64 iova = pick_iova(t), size = pick_size(t);
	u32 flags = 0;
	struct vfio_bitmap bm, *bmp = NULL;

	switch (rn(t, 40)) {
	case 0: case 1: case 2: case 3:
		flags = VFIO_DMA_UNMAP_FLAG_ALL;
		iova = size = 0;
		break;
	case 4: flags = VFIO_DMA_UNMAP_FLAG_ALL; break;
	case 5: case 6:
		flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		bm = pick_bitmap(t, size);
		bmp = &bm;
		break;
	case 7: flags = VFIO_DMA_UNMAP_FLAG_VADDR; break;
	case 8: flags = VFIO_DMA_UNMAP_FLAG_VADDR | VFIO_DMA_UNMAP_FLAG_ALL; break;
	case 9: flags = (u32)rnd(t); break;
	case 10: flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL; break;
	case 11: case 12: case 13: iova = 0; size = 32ULL << 20; break;
	case 14: iova = 0; size = 1ULL << 63; break;
	case 15: iova = 1ULL << 63; size = 1ULL << 63; break;
	}
	/*
	 * --common: no FLAG_VADDR, no GET_DIRTY_BITMAP (dirty tracking: rvfio refuses the flag
	 * at once, upstream first checks the bitmap and the range, then finds no tracking).
	 */
	if (opt.common && (flags & (VFIO_DMA_UNMAP_FLAG_VADDR |
				    VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP))) {
		flags &= ~(VFIO_DMA_UNMAP_FLAG_VADDR | VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP);
		bmp = NULL;
	}
	return do_unmap(t, c, iova, size, flags, bmp);
}

static int op_c_dirty(struct thr *t)
{
	struct fdref c = pick_container(t);
	struct {
		struct vfio_iommu_type1_dirty_bitmap d;
		struct vfio_iommu_type1_dirty_bitmap_get g;
	} arg;
	u32 minsz = offsetofend(struct vfio_iommu_type1_dirty_bitmap, flags);
	int k = pick_pk(t, 90);
	void *p;

	memset(&arg, 0, sizeof(arg));
	arg.d.flags = PICK(t, VFIO_IOMMU_DIRTY_PAGES_FLAG_START, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
			   VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
			   VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
			   VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, 0,
			   VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
			   (u32)rnd(t));
	arg.d.argsz = sizeof(arg);
	if (chance(t, 20))
		arg.d.argsz = pick_argsz(t, sizeof(arg), minsz);
	arg.g.iova = chance(t, 70) ? PG * rn(t, 8192) : pick_iova(t);
	arg.g.size = chance(t, 70) ? PG * (1 + rn(t, 8192)) : pick_size(t);
	arg.g.bitmap = pick_bitmap(t, arg.g.size);
	p = place(t, k, &arg, sizeof(arg));
	desc(t, "fd=%d/%d argsz=%u flags=%#x iova=%#llx size=%#llx bitmap{pgsize=%#llx size=%#llx} ptr=%s",
	     c.fd, c.slot, arg.d.argsz, arg.d.flags, (unsigned long long)arg.g.iova,
	     (unsigned long long)arg.g.size, (unsigned long long)arg.g.bitmap.pgsize,
	     (unsigned long long)arg.g.bitmap.size, pk_name[k]);
	return result(t, ioctl(c.fd, VFIO_IOMMU_DIRTY_PAGES, p));
}

/* _IO(';', 100 + nr) that no fd of @kind (0 container, 1 group, 2 device) knows. */
static unsigned long pick_unknown_cmd(struct thr *t, int kind, int *known_unknown)
{
	static const int cont[] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 18, 19, 20, 21, 22, 30, 40,
				    63 };
	static const int grp[] = { 0, 1, 2, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 21, 22, 40 };
	static const int dev[] = { 0, 1, 2, 3, 4, 5, 6, 14, 15, 21, 22, 23, 30, 40, 63 };

	*known_unknown = 1;
	switch (rn(t, 5)) {
	case 0:
		*known_unknown = 0;
		return _IOC(rn(t, 4), VFIO_TYPE, VFIO_BASE + rn(t, 64), rn(t, 1 << 14));
	case 1:
		*known_unknown = 0;
		return ((u32)rnd(t) & ~0xff00U) | ('a' + rn(t, 20)) << 8;
	default:
		if (kind == 0)
			return _IO(VFIO_TYPE, VFIO_BASE + cont[rn(t, ARRAY_SIZE(cont))]);
		if (kind == 1)
			return _IO(VFIO_TYPE, VFIO_BASE + grp[rn(t, ARRAY_SIZE(grp))]);
		return _IO(VFIO_TYPE, VFIO_BASE + dev[rn(t, ARRAY_SIZE(dev))]);
	}
}

static int op_c_unknown(struct thr *t)
{
	struct fdref c = pick_container(t);
	int ku;
	unsigned long cmd = pick_unknown_cmd(t, 0, &ku);
	u8 buf[64];
	int res;

	memset(buf, 0, sizeof(buf));
	desc(t, "fd=%d/%d cmd=%#lx", c.fd, c.slot, cmd);
	res = result(t, ioctl(c.fd, cmd, place(t, PK_OK, buf, sizeof(buf))));
	if (ku && stable(c) && slot_is_container(c.slot) && res != EINVAL && res != ENOTTY)
		violation(t, res, ENOTTY, "unknown container ioctl");
	return res;
}

/* ------------------------------------------------------------------ group ops */

static struct fdref pick_group(struct thr *t, struct grp **g)
{
	*g = &fx.grp[rn(t, fx.ngrp)];
	if (chance(t, 95))
		return ref((*g)->slot);
	return any_ref(t, (*g)->slot);
}

static int op_g_status(struct thr *t)
{
	struct grp *g;
	struct fdref r = pick_group(t, &g);
	struct vfio_group_status st = { .argsz = sizeof(st) };
	u32 minsz = offsetofend(struct vfio_group_status, flags);
	int dirty = atomic_load(&fx.config_dirty);
	int k = pick_pk(t, 85);
	struct vfio_group_status *p;
	int res;

	st.argsz = pick_argsz(t, sizeof(st), minsz);
	st.flags = chance(t, 50) ? (u32)rnd(t) : 0;
	p = place(t, k, &st, sizeof(st));
	desc(t, "fd=%d/%d argsz=%u ptr=%s", r.fd, r.slot, st.argsz, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_GROUP_GET_STATUS, p));
	if (!res && pk_valid(k))
		out(t, "flags=%#x", p->flags);
	if (!stable(r) || !slot_is_group(r.slot) || !pk_valid(k))
		return res;
	expect(t, st.argsz < minsz, res, EINVAL, "argsz < minsz");
	if (!res && fx.single && !dirty &&
	    p->flags != (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET))
		violation(t, res, 0, "status VIABLE|CONTAINER_SET");
	return res;
}

static int op_g_set_container(struct thr *t)
{
	struct grp *g;
	struct fdref r = pick_group(t, &g);
	int dirty = atomic_load(&fx.config_dirty);
	int k = pick_pk(t, 90);
	const char *what;
	int fd, res, closed;

	switch (rn(t, 10)) {
	case 0: fd = -1; what = "-1"; break;
	case 1: fd = CLOSED_FD_BASE + rn(t, 100); what = "closed"; break;
	case 2: fd = fx.nullfd; what = "/dev/null"; break;
	case 3: fd = r.fd; what = "self"; break;
	case 4: fd = atomic_load(&fx.slots[SL_DEV0 + rn(t, fx.ndev)].fd); what = "device"; break;
	case 5: fd = atomic_load(&fx.slots[SL_EFD0 + rn(t, NEFD)].fd); what = "eventfd"; break;
	case 6: case 7: fd = atomic_load(&fx.slots[SL_CONT2].fd); what = "container2"; break;
	default: fd = atomic_load(&fx.slots[SL_CONT].fd); what = "container"; break;
	}
	closed = fd == -1 || fd >= CLOSED_FD_BASE;
	desc(t, "fd=%d/%d container=%s(%d) ptr=%s", r.fd, r.slot, what, fd, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_GROUP_SET_CONTAINER, place(t, k, &fd, sizeof(fd))));
	if (!res && slot_is_group(r.slot))
		atomic_store(&fx.config_dirty, 1);
	if (!stable(r) || !slot_is_group(r.slot) || !pk_valid(k))
		return res;
	expect(t, closed, res, EBADF, "SET_CONTAINER of a closed fd");
	expect(t, !closed && fx.single && !dirty, res, EINVAL, "SET_CONTAINER on a set group");
	return res;
}

static int op_g_unset(struct thr *t)
{
	struct grp *g;
	struct fdref r = pick_group(t, &g);
	int dirty = atomic_load(&fx.config_dirty);
	int res;

	desc(t, "fd=%d/%d", r.fd, r.slot);
	res = result(t, ioctl(r.fd, VFIO_GROUP_UNSET_CONTAINER));
	if (!res && slot_is_group(r.slot))
		atomic_store(&fx.config_dirty, 1);
	expect(t, stable(r) && slot_is_group(r.slot) && fx.single && !dirty, res, EBUSY,
	       "UNSET_CONTAINER with devices open");
	return res;
}

static int op_g_device_fd(struct thr *t)
{
	struct grp *g;
	struct fdref r = pick_group(t, &g);
	struct fdev *own = NULL, *other = NULL;
	static const char uuid_ok[] = "2f0d7e4e-1b5a-4c1e-9d3b-4a2f6c8e9b10";
	char name[6000];
	int k = pick_pk(t, 92), res, want = -1;
	size_t len;

	for (int i = 0; i < fx.ndev; i++) {
		if (fx.dev[i].grp == g - fx.grp)
			own = &fx.dev[i];
		else
			other = &fx.dev[i];
	}
	switch (rn(t, 14)) {
	case 0: case 1:
		snprintf(name, sizeof(name), "%s", own ? own->bdf : "");
		break;
	case 2:
		snprintf(name, sizeof(name), "%s", other ? other->bdf : "x");
		want = ENODEV;
		break;
	case 3: case 4:
		len = 1 + rn(t, 64);
		for (size_t i = 0; i < len; i++)
			name[i] = "abcdefghijklmnopqrstuvwxyz0123456789._- "[rn(t, 40)];
		name[len] = '\0';
		want = ENODEV;
		break;
	case 5:
		memset(name, 'a', sizeof(name));	/* no NUL within a page */
		name[sizeof(name) - 1] = '\0';
		want = EINVAL;
		break;
	case 6:
		snprintf(name, sizeof(name), "%s vf_token=", own ? own->bdf : "");
		len = strlen(name);
		for (size_t i = 0; i < 36; i++)
			name[len + i] = "0123456789abcdef-xyz"[rn(t, 20)];
		name[len + 36] = '\0';
		break;
	case 7:
		snprintf(name, sizeof(name), "%s vf_token=%s", own ? own->bdf : "", uuid_ok);
		break;
	case 8:
		snprintf(name, sizeof(name), "%s %s", own ? own->bdf : "",
			 PICK(t, 0, 1, 2, 3) == 0 ? "vf_token" : chance(t, 50) ? " " : "junk=1");
		break;
	case 9:
		snprintf(name, sizeof(name), "%s vf_token=%s vf_token=%s", own ? own->bdf : "",
			 uuid_ok, uuid_ok);
		break;
	case 10:
		snprintf(name, sizeof(name), "%sx", own ? own->bdf : "");
		want = ENODEV;
		break;
	case 11:
		name[0] = '\0';
		want = ENODEV;
		break;
	case 12:
		snprintf(name, sizeof(name), "%.*s", own ? (int)rn(t, strlen(own->bdf)) : 0,
			 own ? own->bdf : "");
		want = ENODEV;
		break;
	default:
		snprintf(name, sizeof(name), "%s vf_token=%s", own ? own->bdf : "",
			 "00000000-0000-0000-0000-000000000000");
		break;
	}
	len = strnlen(name, sizeof(name)) + 1;
	desc(t, "fd=%d/%d name=\"%.60s\"%s ptr=%s", r.fd, r.slot, name, len > 61 ? "..." : "",
	     pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_GROUP_GET_DEVICE_FD, place(t, k, name, len)));
	if (!res) {
		t->has_val = 0;	/* the number depends on what else is open */
		close(t->val);
	}
	if (want >= 0 && stable(r) && r.slot == g->slot && pk_valid(k))
		expect(t, 1, res, want, "GET_DEVICE_FD of a bad name");
	return res;
}

static int op_g_unknown(struct thr *t)
{
	struct grp *g;
	struct fdref r = pick_group(t, &g);
	int ku;
	unsigned long cmd = pick_unknown_cmd(t, 1, &ku);
	u8 buf[64];
	int res;

	memset(buf, 0, sizeof(buf));
	desc(t, "fd=%d/%d cmd=%#lx", r.fd, r.slot, cmd);
	res = result(t, ioctl(r.fd, cmd, place(t, PK_OK, buf, sizeof(buf))));
	expect(t, ku && stable(r) && slot_is_group(r.slot), res, ENOTTY, "unknown group ioctl");
	return res;
}

/* ------------------------------------------------------------------ device ops */

static struct fdref pick_devref(struct thr *t, struct fdev **d)
{
	*d = pick_dev(t);
	if (chance(t, 96))
		return ref((*d)->slot);
	return any_ref(t, (*d)->slot);
}

/* The fd was @d's device fd throughout the call. */
static int devstable(struct fdref r, struct fdev *d)
{
	return stable(r) && r.slot == d->slot;
}

static int op_d_info(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	struct vfio_device_info info;
	u32 minsz = offsetofend(struct vfio_device_info, num_irqs);
	int k = pick_pk(t, 85);
	struct vfio_device_info *p;
	int res;

	memset(&info, 0, sizeof(info));
	info.argsz = pick_argsz(t, sizeof(info), minsz);
	if (chance(t, 20))
		info.flags = rnd(t);
	p = place(t, k, &info, sizeof(info));
	desc(t, "dev=%s fd=%d/%d argsz=%u ptr=%s", d->name, r.fd, r.slot, info.argsz, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_DEVICE_GET_INFO, p));
	if (!res && pk_valid(k)) {
		out(t, "flags=%#x regions=%u irqs=%u", p->flags, p->num_regions, p->num_irqs);
		if (info.argsz >= sizeof(info))
			out(t, " argsz=%u cap_offset=%u", p->argsz, p->cap_offset);
	}
	if (!devstable(r, d) || !pk_valid(k))
		return res;
	expect(t, info.argsz < minsz, res, EINVAL, "argsz < minsz");
	if (!res && info.argsz >= minsz &&
	    (!(p->flags & VFIO_DEVICE_FLAGS_PCI) || p->num_irqs != VFIO_PCI_NUM_IRQS ||
	     p->num_regions < VFIO_PCI_NUM_REGIONS - 1))
		violation(t, res, 0, "GET_INFO: PCI, 5 IRQs, >= 8 regions");
	return res;
}

static int op_d_region_info(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	struct vfio_region_info info;
	u32 minsz = offsetofend(struct vfio_region_info, offset);
	int k = pick_pk(t, 85);
	struct vfio_region_info *p;
	int res;

	memset(&info, 0, sizeof(info));
	info.argsz = pick_argsz(t, sizeof(info) + (chance(t, 30) ? 128 : 0), minsz);
	info.index = chance(t, 85) ? rn(t, 10) : PICK(t, 10, 64, 255, 0x80000000, ~0U, (u32)rnd(t));
	if (chance(t, 20)) {
		info.flags = rnd(t);
		info.size = rnd(t);
		info.cap_offset = rnd(t);
	}
	p = place(t, k, &info, sizeof(info));
	desc(t, "dev=%s fd=%d/%d argsz=%u index=%u ptr=%s", d->name, r.fd, r.slot, info.argsz,
	     info.index, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_DEVICE_GET_REGION_INFO, p));
	if (!res && pk_valid(k))
		out(t, "flags=%#x size=%#llx offset=%#llx argsz=%u cap_offset=%u", p->flags,
		    (unsigned long long)p->size, (unsigned long long)p->offset, p->argsz,
		    info.argsz >= sizeof(info) ? p->cap_offset : 0);
	if (!devstable(r, d) || !pk_valid(k))
		return res;
	expect(t, info.argsz < minsz, res, EINVAL, "argsz < minsz");
	expect(t, info.argsz >= minsz && info.index >= 64, res, EINVAL, "index beyond regions");
	if (!res && info.argsz >= minsz && info.index < VFIO_PCI_NUM_REGIONS &&
	    (p->index != info.index || p->offset != region_off(info.index) ||
	     p->size != d->reg[info.index].size))
		violation(t, res, 0, "REGION_INFO index/offset/size stable");
	return res;
}

static int op_d_irq_info(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	struct vfio_irq_info info;
	u32 minsz = offsetofend(struct vfio_irq_info, count);
	int k = pick_pk(t, 85);
	struct vfio_irq_info *p;
	int res;

	memset(&info, 0, sizeof(info));
	info.argsz = pick_argsz(t, sizeof(info), minsz);
	info.index = chance(t, 85) ? rn(t, 6) : PICK(t, 6, 64, ~0U, (u32)rnd(t));
	if (chance(t, 20))
		info.flags = rnd(t);
	p = place(t, k, &info, sizeof(info));
	desc(t, "dev=%s fd=%d/%d argsz=%u index=%u ptr=%s", d->name, r.fd, r.slot, info.argsz,
	     info.index, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_DEVICE_GET_IRQ_INFO, p));
	if (!res && pk_valid(k))
		out(t, "flags=%#x count=%u", p->flags, p->count);
	if (!devstable(r, d) || !pk_valid(k))
		return res;
	expect(t, info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS, res, EINVAL,
	       "argsz < minsz or index >= 5");
	if (!res && info.index < VFIO_PCI_NUM_IRQS && p->count != d->irq_count[info.index])
		violation(t, res, 0, "IRQ_INFO count stable");
	return res;
}

/* An eventfd (mostly) or something that is not one, for SET_IRQS and friends. */
static int32_t pick_efd(struct thr *t, struct fdref dev)
{
	switch (rn(t, 20)) {
	case 0: return -1;
	case 1: return fx.nullfd;
	case 2: return dev.fd;
	case 3: return CLOSED_FD_BASE + rn(t, 100);
	case 4: return PICK(t, -2, 0x7fffffff, (u32)rnd(t));
	default: return atomic_load(&fx.slots[SL_EFD0 + rn(t, NEFD)].fd);
	}
}

static int op_d_set_irqs(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	struct vfio_irq_set hdr;
	u32 minsz = offsetofend(struct vfio_irq_set, count);
	u8 buf[sizeof(hdr) + 4 * 1024];
	u32 n, elem = 0, max;
	size_t data = 0;
	int k = pick_pk(t, 95);
	void *p;
	int res;

	memset(&hdr, 0, sizeof(hdr));
	hdr.index = chance(t, 90) ? rn(t, VFIO_PCI_NUM_IRQS) : PICK(t, 5, 6, 255, ~0U, (u32)rnd(t));
	n = hdr.index < VFIO_PCI_NUM_IRQS ? d->irq_count[hdr.index] : 1;
	hdr.start = chance(t, 80) ? (chance(t, 70) ? 0 : rn(t, n + 1))
				  : PICK(t, n, n + 1, 0x80000000, ~0U, ~0U - 1);
	switch (rn(t, 12)) {
	case 0: hdr.count = 0; break;
	case 1: hdr.count = n; break;
	case 2: hdr.count = n > hdr.start ? n - hdr.start : 0; break;
	case 3: hdr.count = n + 1; break;
	case 4: hdr.count = PICK(t, ~0U, 0x7fffffff, ~0U - hdr.start, 0x40000000); break;
	case 5: hdr.count = rn(t, 64); break;
	default: hdr.count = 1 + rn(t, 2); break;
	}
	hdr.flags = PICK(t, VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL,
			 VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_EVENTFD,
			 VFIO_IRQ_SET_DATA_EVENTFD) |
		    PICK(t, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_MASK,
			 VFIO_IRQ_SET_ACTION_UNMASK);
	if (chance(t, 10))
		hdr.flags = PICK(t, 0, VFIO_IRQ_SET_ACTION_TRIGGER, (u32)rnd(t),
				 VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
				 VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER |
				 VFIO_IRQ_SET_ACTION_UNMASK,
				 hdr.flags | 1U << (6 + rn(t, 26)));
	if (hdr.flags & VFIO_IRQ_SET_DATA_BOOL)
		elem = 1;
	if (hdr.flags & VFIO_IRQ_SET_DATA_EVENTFD)
		elem = 4;
	max = (sizeof(buf) - sizeof(hdr)) / (elem ? elem : 1);
	for (u32 i = 0; elem && i < hdr.count && i < max; i++) {
		if (elem == 1) {
			buf[sizeof(hdr) + i] = chance(t, 80) ? rn(t, 2) : (u8)rnd(t);
		} else {
			int32_t fd = pick_efd(t, r);

			memcpy(buf + sizeof(hdr) + 4 * i, &fd, 4);
		}
		data += elem;
	}
	hdr.argsz = sizeof(hdr) + data;
	if (chance(t, 10))
		hdr.argsz = pick_argsz(t, hdr.argsz, minsz);
	memcpy(buf, &hdr, sizeof(hdr));
	p = place(t, k, buf, sizeof(hdr) + data);
	desc(t, "dev=%s fd=%d/%d argsz=%u flags=%#x index=%u start=%u count=%u ptr=%s", d->name,
	     r.fd, r.slot, hdr.argsz, hdr.flags, hdr.index, hdr.start, hdr.count, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_DEVICE_SET_IRQS, p));
	if (!devstable(r, d) || !pk_valid(k))
		return res;
	if (hdr.argsz < minsz || hdr.index >= VFIO_PCI_NUM_IRQS ||
	    hdr.count >= ~0U - hdr.start || (hdr.flags & ~0x3fU))
		expect(t, 1, res, EINVAL, "SET_IRQS argsz/index/count/flags");
	else if (hdr.start >= n || hdr.start + hdr.count > n)
		expect(t, 1, res, EINVAL, "SET_IRQS start/count beyond the index");
	else if (__builtin_popcount(hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) != 1)
		expect(t, 1, res, EINVAL, "SET_IRQS data type");
	else if (elem && hdr.argsz - minsz < (u64)hdr.count * elem)
		expect(t, 1, res, EINVAL, "SET_IRQS payload short");
	return res;
}

static int op_d_reset(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);

	desc(t, "dev=%s fd=%d/%d", d->name, r.fd, r.slot);
	return result(t, ioctl(r.fd, VFIO_DEVICE_RESET, chance(t, 50) ? 0 : rnd(t)));
}

static int op_d_feature(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	struct {
		struct vfio_device_feature f;
		u8 data[256];
	} arg;
	u32 minsz = offsetofend(struct vfio_device_feature, flags);
	u32 feat, dlen = 16;
	int k = pick_pk(t, 92);
	int res, bad_flags;
	void *p;

	memset(&arg, 0, sizeof(arg));
	feat = chance(t, 85) ? rn(t, 16) : PICK(t, 16, 100, 0xffff, (u32)rnd(t) & 0xffff);
	/* --common: not the low-power and dma-buf features, which rvfio does not serve. */
	if (opt.common && ((feat >= VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY &&
			    feat <= VFIO_DEVICE_FEATURE_LOW_POWER_EXIT) ||
			   feat == VFIO_DEVICE_FEATURE_DMA_BUF))
		feat = VFIO_DEVICE_FEATURE_MIGRATION;
	arg.f.flags = feat | PICK(t, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_SET,
				  VFIO_DEVICE_FEATURE_PROBE,
				  VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET,
				  VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET,
				  VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET, 0);
	if (chance(t, 8))
		arg.f.flags |= 1U << (19 + rn(t, 13));
	for (size_t i = 0; i < sizeof(arg.data); i++)
		arg.data[i] = chance(t, 50) ? 0 : (u8)rnd(t);
	switch (feat) {
	case VFIO_DEVICE_FEATURE_PCI_VF_TOKEN:
		dlen = 16;
		break;
	case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP: {
		struct vfio_device_low_power_entry_with_wakeup w = { .wakeup_eventfd =
								     pick_efd(t, r) };
		memcpy(arg.data, &w, sizeof(w));
		dlen = sizeof(w);
		break;
	}
	case VFIO_DEVICE_FEATURE_DMA_BUF: {
		struct vfio_device_feature_dma_buf db = {
			.region_index = chance(t, 80) ? rn(t, 9) : (u32)rnd(t),
			.open_flags = chance(t, 70) ? O_RDWR | O_CLOEXEC : (u32)rnd(t),
			.flags = chance(t, 90) ? 0 : (u32)rnd(t),
			.nr_ranges = PICK(t, 0, 1, 1, 2, 8, ~0U, 0x10000000),
		};
		struct vfio_region_dma_range rg[8];
		u64 sz = region_size(d, db.region_index);

		for (int i = 0; i < 8; i++) {
			rg[i].offset = chance(t, 70) ? PG * rn(t, sz / PG + 2) : pick_offset(t, sz, 0);
			rg[i].length = chance(t, 70) ? PG * (1 + rn(t, 4)) : pick_len(t);
		}
		memcpy(arg.data, &db, sizeof(db));
		memcpy(arg.data + sizeof(db), rg, sizeof(rg));
		dlen = sizeof(db) + (db.nr_ranges < 8 ? db.nr_ranges : 8) * sizeof(rg[0]);
		break;
	}
	default:
		dlen = PICK(t, 0, 4, 8, 16, 64);
		break;
	}
	arg.f.argsz = minsz + dlen;
	if (chance(t, 15))
		arg.f.argsz = pick_argsz(t, arg.f.argsz, minsz);
	p = place(t, k, &arg, sizeof(arg));
	desc(t, "dev=%s fd=%d/%d argsz=%u flags=%#x ptr=%s", d->name, r.fd, r.slot, arg.f.argsz,
	     arg.f.flags, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_DEVICE_FEATURE, p));
	if (!res && t->val > 0) {
		close(t->val);	/* a dma-buf */
		t->has_val = 0;
	}
	if (!devstable(r, d) || !pk_valid(k))
		return res;
	bad_flags = arg.f.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET |
				    VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE);
	if (arg.f.argsz < minsz || bad_flags)
		expect(t, 1, res, EINVAL, "FEATURE argsz < minsz or unknown flags");
	else if ((arg.f.flags & VFIO_DEVICE_FEATURE_GET) &&
		 (arg.f.flags & VFIO_DEVICE_FEATURE_SET) &&
		 !(arg.f.flags & VFIO_DEVICE_FEATURE_PROBE))
		expect(t, 1, res, EINVAL, "FEATURE GET and SET");
	else if (feat >= 16)
		expect(t, 1, res, ENOTTY, "unknown FEATURE");
	return res;
}

static int op_d_unknown(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	int ku;
	unsigned long cmd = pick_unknown_cmd(t, 2, &ku);
	u8 buf[64];
	int res;

	memset(buf, 0, sizeof(buf));
	desc(t, "dev=%s fd=%d/%d cmd=%#lx", d->name, r.fd, r.slot, cmd);
	res = result(t, ioctl(r.fd, cmd, place(t, PK_OK, buf, sizeof(buf))));
	expect(t, ku && devstable(r, d), res, ENOTTY, "unknown device ioctl");
	return res;
}

static int op_d_hot_reset_info(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	struct vfio_pci_hot_reset_info info;
	u32 minsz = offsetofend(struct vfio_pci_hot_reset_info, count);
	int k = pick_pk(t, 85);
	struct vfio_pci_hot_reset_info *p;
	int res;

	memset(&info, 0, sizeof(info));
	info.argsz = pick_argsz(t, sizeof(info) + PICK(t, 0, 16, 64), minsz);
	info.flags = chance(t, 80) ? 0 : rnd(t);
	p = place(t, k, &info, sizeof(info));
	desc(t, "dev=%s fd=%d/%d argsz=%u ptr=%s", d->name, r.fd, r.slot, info.argsz, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, p));
	if ((!res || res == ENOSPC) && pk_valid(k))
		out(t, "flags=%#x count=%u", p->flags, p->count);
	return res;
}

static int op_d_hot_reset(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	u8 buf[sizeof(struct vfio_pci_hot_reset) + 4 * 8];
	struct vfio_pci_hot_reset h;
	int32_t fds[8];
	u32 n = PICK(t, 0, 1, 1, 2, 3, 8, ~0U);
	int k = pick_pk(t, 90);

	memset(&h, 0, sizeof(h));
	for (u32 i = 0; i < 8; i++)
		fds[i] = chance(t, 70) ? atomic_load(&fx.slots[fx.grp[rn(t, fx.ngrp)].slot].fd)
				       : pick_efd(t, r);
	h.count = n;
	h.flags = chance(t, 85) ? 0 : rnd(t);
	h.argsz = sizeof(h) + 4 * (n < 8 ? n : 8);
	if (chance(t, 15))
		h.argsz = pick_argsz(t, h.argsz, sizeof(h));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), fds, sizeof(fds));
	desc(t, "dev=%s fd=%d/%d argsz=%u flags=%#x count=%u ptr=%s", d->name, r.fd, r.slot,
	     h.argsz, h.flags, n, pk_name[k]);
	return result(t, ioctl(r.fd, VFIO_DEVICE_PCI_HOT_RESET, place(t, k, buf, sizeof(buf))));
}

static int op_d_ioeventfd(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	struct vfio_device_ioeventfd io;
	u32 minsz = offsetofend(struct vfio_device_ioeventfd, fd);
	int k = pick_pk(t, 92);
	u64 index, off, width;
	int res;

	memset(&io, 0, sizeof(io));
	io.flags = PICK(t, VFIO_DEVICE_IOEVENTFD_32, VFIO_DEVICE_IOEVENTFD_32,
			VFIO_DEVICE_IOEVENTFD_8, VFIO_DEVICE_IOEVENTFD_16, VFIO_DEVICE_IOEVENTFD_64,
			0, VFIO_DEVICE_IOEVENTFD_32 | VFIO_DEVICE_IOEVENTFD_16, (u32)rnd(t));
	width = io.flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK;
	width = width == VFIO_DEVICE_IOEVENTFD_8 ? 1 : width == VFIO_DEVICE_IOEVENTFD_16 ? 2 :
		width == VFIO_DEVICE_IOEVENTFD_64 ? 8 : 4;
	io.data = rnd(t);
	io.fd = chance(t, 20) ? -1 : pick_efd(t, r);
	index = pick_index(t);
	if (d->is_edu && index == 0 && chance(t, 60))
		off = PICK(t, EDU_REG_LIVENESS, EDU_REG_FACTORIAL, EDU_REG_IRQ_ACK);
	else if (!d->is_edu && index == (u64)d->msix_bar && d->msix_size && chance(t, 50))
		off = d->msix_off + rn(t, d->msix_size);
	else
		off = pick_offset(t, region_size(d, index), chance(t, 80));
	io.offset = region_off(index) + off;
	io.argsz = sizeof(io);
	if (chance(t, 10))
		io.argsz = pick_argsz(t, sizeof(io), minsz);
	/*
	 * An ioeventfd writes io.data to the device whenever the eventfd is signalled (SET_IRQS
	 * loopback triggers do that): only on writes we would do ourselves, except igb's MSI-X
	 * table, which must be refused.
	 */
	if (!write_safe(d, index, off, width) &&
	    !(!d->is_edu && index == (u64)d->msix_bar && off >= d->msix_off &&
	      off < d->msix_off + d->msix_size))
		io.fd = -1;
	pthread_rwlock_rdlock(&fx.slots[d->slot].lock);
	if (r.slot != d->slot)
		r = ref(d->slot);	/* a valid eventfd on a random fd: keep to our device */
	desc(t, "dev=%s fd=%d/%d argsz=%u flags=%#x offset=%llu:%#llx efd=%d ptr=%s", d->name,
	     r.fd, r.slot, io.argsz, io.flags, (unsigned long long)index,
	     (unsigned long long)off, io.fd, pk_name[k]);
	res = result(t, ioctl(r.fd, VFIO_DEVICE_IOEVENTFD, place(t, k, &io, sizeof(io))));
	pthread_rwlock_unlock(&fx.slots[d->slot].lock);
	return res;
}

/*
 * Random data for a write: all of it, so that no stale scratch bytes (pointers, which differ
 * between runs) reach the device and records of two runs stay comparable.
 */
static void fill(struct thr *t, u8 *p, u64 len)
{
	for (u64 i = 0; i < len; i++)
		p[i] = chance(t, 30) ? 0xff : (u8)rnd(t);
}

/* A buffer for @len bytes of pread/pwrite data. */
static void *pick_buf(struct thr *t, u64 len, int *k, int writing)
{
	*k = pick_pk(t, 88);
	if (*k == PK_RO) {
		if (writing)
			fill(t, t->rw_view, len < RO_SIZE ? len : RO_SIZE);
		return t->ro_view;
	}
	if (*k == PK_STRADDLE) {
		u64 cut = len > 1 ? 1 + rn(t, len - 1) : 0;

		if (writing)
			fill(t, t->scratch + SCRATCH_SIZE - cut, cut);
		return t->scratch + SCRATCH_SIZE - cut;
	}
	if (pk_valid(*k)) {
		u8 *p = place(t, *k, NULL, 0);

		if (writing)
			fill(t, p, len);
		return p;
	}
	return place(t, *k, NULL, 0);
}

/*
 * Whether config bytes [off, off + len) are worth recording: the header and the first bytes
 * of each capability, whose virtualisation the stacks must agree on. Bytes between
 * structures are the device's own and keep whatever an earlier run wrote there.
 */
static int cfg_recordable(struct fdev *d, u64 off, u64 len)
{
	if (off + len <= PCI_STD_HEADER_SIZEOF)
		return 1;
	for (int i = 0; i < d->ncaps; i++)
		if (off >= d->caps[i] && off + len <= d->caps[i] + 8)
			return 1;
	return 0;
}

static int op_d_read(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	u64 index = pick_index(t);
	u64 off = pick_offset(t, region_size(d, index), chance(t, 60));
	u64 len = pick_len(t);
	int k, res;
	void *buf = pick_buf(t, len, &k, 0);

	desc(t, "dev=%s fd=%d/%d index=%llu off=%#llx len=%llu buf=%s", d->name, r.fd, r.slot,
	     (unsigned long long)index, (unsigned long long)off, (unsigned long long)len,
	     pk_name[k]);
	res = result(t, pread(r.fd, buf, len, region_off(index) + off));
	if (!res && index == VFIO_PCI_CONFIG_REGION_INDEX && pk_valid(k) && t->val > 0 &&
	    t->val <= 8 && cfg_recordable(d, off, t->val)) {
		u64 v = 0;

		memcpy(&v, buf, t->val);
		out(t, "data=%#llx", (unsigned long long)v);
	}
	if (!devstable(r, d) || !pk_valid(k) || !len)
		return res;
	expect(t, index >= VFIO_PCI_NUM_REGIONS, res, EINVAL, "read of a region beyond the device's");
	return res;
}

static int do_write(struct thr *t, struct fdev *d, struct fdref r, u64 index, u64 off, u64 len,
		    const char *tag)
{
	int k, res, locked = 0;
	void *buf = pick_buf(t, len, &k, 1);

	/*
	 * --common: rvfio reads all of a write's buffer before touching the device (-EFAULT,
	 * nothing done); upstream copies it access by access, skipping config bytes that
	 * cannot be written: a bad config buffer can succeed there, a half-readable BAR buffer
	 * fails -EIO first while memory decode is off.
	 */
	if (opt.common && ((index == VFIO_PCI_CONFIG_REGION_INDEX && !pk_valid(k)) ||
			   k == PK_STRADDLE)) {
		k = PK_OK;
		buf = place(t, k, NULL, 0);
		fill(t, buf, len);
	}

	if (index <= VFIO_PCI_BAR5_REGION_INDEX) {
		/* The write must reach the device we checked it against. */
		pthread_rwlock_rdlock(&fx.slots[d->slot].lock);
		locked = 1;
		r = ref(d->slot);
	}
	desc(t, "dev=%s fd=%d/%d %sindex=%llu off=%#llx len=%llu buf=%s", d->name, r.fd, r.slot,
	     tag, (unsigned long long)index, (unsigned long long)off, (unsigned long long)len,
	     pk_name[k]);
	if (len <= 8 && pk_valid(k)) {
		u64 v = 0;

		memcpy(&v, buf, len);
		desc(t, " data=%#llx", (unsigned long long)v);
	} else if (rec && len <= 64 && pk_valid(k)) {
		/* Records carry longer data too (in bytes), to replay a call. */
		desc(t, " bytes=");
		for (u64 i = 0; i < len; i++)
			desc(t, "%02x", ((u8 *)buf)[i]);
	}
	res = result(t, pwrite(r.fd, buf, len, region_off(index) + off));
	if (locked)
		pthread_rwlock_unlock(&fx.slots[d->slot].lock);
	if (!devstable(r, d) || !pk_valid(k) || !len)
		return res;
	expect(t, index >= VFIO_PCI_NUM_REGIONS, res, EINVAL, "write of a region beyond the device's");
	expect(t, index == VFIO_PCI_ROM_REGION_INDEX, res, EINVAL, "write of the ROM");
	return res;
}

static int op_d_write(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	u64 index = pick_index(t);
	u64 off = pick_offset(t, region_size(d, index), chance(t, 60));
	u64 len = pick_len(t);

	if (d->is_edu && index == 0 && chance(t, 40))
		off = PICK(t, EDU_REG_LIVENESS, EDU_REG_FACTORIAL, EDU_REG_IRQ_ACK, EDU_REG_DMA_SRC,
			   EDU_REG_DMA_COUNT, EDU_DMA_BUF);
	if (!write_safe(d, index, off, len))
		off = region_size(d, index) + rn(t, 8);	/* past the end: must fail */
	return do_write(t, d, r, index, off, len, "");
}

/* Config-space writes: the header, around each capability, the edges. */
static int op_d_cfg_write(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	u64 off, len = PICK(t, 1, 2, 4, 4, 4, 4, 2, 1, 3, 8, 0, 16, 64);

	switch (rn(t, 8)) {
	case 0:
		off = PICK(t, PCI_COMMAND, PCI_COMMAND, PCI_STATUS, PCI_CACHE_LINE_SIZE,
			   PCI_LATENCY_TIMER, PCI_BIST, PCI_INTERRUPT_LINE, PCI_ROM_ADDRESS,
			   PCI_CAPABILITY_LIST);
		break;
	case 1:
		off = PCI_BASE_ADDRESS_0 + 4 * rn(t, 6);
		break;
	case 2: case 3: case 4:
		off = d->ncaps ? d->caps[rn(t, d->ncaps)] + rn(t, 24) : rn(t, 64);
		break;
	case 5:
		off = pick_offset(t, d->cfg_size, 0);
		break;
	default:
		off = rn(t, d->cfg_size);
		break;
	}
	return do_write(t, d, r, VFIO_PCI_CONFIG_REGION_INDEX, off, len, "cfg ");
}

static int op_d_mmap(struct thr *t)
{
	struct fdev *d;
	struct fdref r = pick_devref(t, &d);
	u64 index = chance(t, 85) ? rn(t, VFIO_PCI_NUM_REGIONS) : pick_index(t);
	u64 size = region_size(d, index);
	u64 off, len;
	int prot = PICK(t, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ, PROT_WRITE,
			PROT_NONE, PROT_READ | PROT_WRITE | PROT_EXEC);
	int flags = chance(t, 90) ? MAP_SHARED : PICK(t, MAP_PRIVATE, MAP_SHARED | MAP_POPULATE,
						       MAP_SHARED | MAP_LOCKED);
	long long write_off = -1;
	void *m;
	int res;

	switch (rn(t, 8)) {
	case 0: off = PG * rn(t, size / PG + 1); break;
	case 1: off = size >= PG ? size - PG : 0; break;
	case 2: off = size; break;
	case 3: off = 1 + rn(t, PG - 1); break;
	default: off = 0; break;
	}
	switch (rn(t, 8)) {
	case 0: len = size + PG; break;
	case 1: len = 2 * size; break;
	case 2: len = PG * (1 + rn(t, 16)); break;
	case 3: len = 1 + rn(t, 3 * PG); break;
	case 4: len = PG; break;
	default: len = size > off ? size - off : PG; break;
	}
	if (len > (64ULL << 20))
		len = 64ULL << 20;
	if (!len)
		len = PG;
	/* Writes through the mapping: edu's LIVENESS only. */
	if (d->is_edu && index == 0 && off == 0 && (prot & PROT_WRITE) && chance(t, 50))
		write_off = EDU_REG_LIVENESS;
	pthread_rwlock_rdlock(&fx.slots[d->slot].lock);
	if (r.slot != d->slot && write_off >= 0)
		r = ref(d->slot);
	desc(t, "dev=%s fd=%d/%d index=%llu off=%#llx len=%#llx prot=%#x flags=%#x", d->name, r.fd,
	     r.slot, (unsigned long long)index, (unsigned long long)off, (unsigned long long)len,
	     prot, flags);
	m = mmap(NULL, len, prot, flags, r.fd, region_off(index) + off);
	res = m == MAP_FAILED ? errno : 0;
	if (!res) {
		u64 tlen = off < size ? (len < size - off ? len : size - off) : 0;

		if ((prot & PROT_READ) && tlen >= 4)
			touch(t, m, tlen, write_off);
		munmap(m, len);
	}
	pthread_rwlock_unlock(&fx.slots[d->slot].lock);
	if (!devstable(r, d))
		return res;
	/* (PROT_EXEC is -EPERM: anon inodes live on a noexec mount.) */
	expect(t, !(prot & PROT_EXEC) && (index == VFIO_PCI_CONFIG_REGION_INDEX ||
					  (flags & MAP_PRIVATE) || index >= VFIO_PCI_NUM_REGIONS),
	       res, EINVAL, "mmap of config/private/no region");
	return res;
}

/* A BAR mmap as the vaddr of MAP_DMA (a VM_PFNMAP mapping), unmapped before or after. */
static int op_d_bar_dma(struct thr *t)
{
	struct fdev *d = pick_dev(t);
	struct fdref r = ref(d->slot), c = ref(SL_CONT);
	u64 index = 0, size = d->reg[0].size;
	u64 len, msize, iova = (1ULL << 31) + PG * rn(t, 4096);
	void *m;
	int res;

	if (!(d->reg[0].flags & VFIO_REGION_INFO_FLAG_MMAP) || !size) {
		desc(t, "dev=%s no mmappable BAR0", d->name);
		return ENODEV;
	}
	len = chance(t, 50) ? size : PG * (1 + rn(t, size / PG));
	if (len > BARWIN_SIZE / 2)
		len = BARWIN_SIZE / 2;
	/* At a fixed place, a guard after it: a MAP_DMA running past it fails the same way. */
	m = mmap(bar_window(t), len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, r.fd,
		 region_off(index));
	if (m == MAP_FAILED) {
		res = errno;
		desc(t, "dev=%s fd=%d mmap len=%#llx", d->name, r.fd, (unsigned long long)len);
		bar_window_reset(t);
		return res;
	}
	msize = chance(t, 80) ? len : PG * (1 + rn(t, 2 * len / PG));
	res = do_map(t, c, (uintptr_t)m + (chance(t, 20) ? PG * rn(t, len / PG) : 0), "bar",
		     (uintptr_t)m, iova, msize, chance(t, 80) ?
		     VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE : pick_map_flags(t));
	/* Half the time the BAR mapping goes first, while the IOMMU still maps it. */
	if (chance(t, 50)) {
		bar_window_reset(t);
		m = NULL;
	}
	if (!res && chance(t, 70)) {
		struct vfio_iommu_type1_dma_unmap u = {
			.argsz = sizeof(u), .iova = iova, .size = msize,
		};

		ioctl(c.fd, VFIO_IOMMU_UNMAP_DMA, &u);
	}
	if (m)
		bar_window_reset(t);
	return res;
}

/* ------------------------------------------------------------------ chaos: fd churn */

static int open_device(struct fdev *d)
{
	int gfd = atomic_load(&fx.slots[fx.grp[d->grp].slot].fd);

	return ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
}

static int quiet_build;	/* build_all() failures are retried: say why only at the end */
static atomic_int rebuild_retries;

#define build_fail(...) ({ if (!quiet_build || opt.verbose) printf(__VA_ARGS__); -1; })

/* Sets every slot up from nothing (the caller holds every slot). */
static int build_all(void)
{
	int c, c2, fd;

	c = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	c2 = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (c < 0 || c2 < 0)
		return build_fail("vfio_fuzz: open /dev/vfio/vfio: %s\n", strerror(errno));
	slot_set(SL_CONT, c);
	slot_set(SL_CONT2, c2);
	for (int i = 0; i < fx.ngrp; i++) {
		/* A device fd still closing in another thread holds the group a moment. */
		for (int tries = 0; tries < 300; tries++) {
			fd = open(fx.grp[i].path, O_RDWR | O_CLOEXEC);
			if (fd >= 0 || errno != EBUSY)
				break;
			usleep(10000);
		}
		if (fd < 0)
			return build_fail("vfio_fuzz: open %s: %s\n", fx.grp[i].path, strerror(errno));
		slot_set(fx.grp[i].slot, fd);
		if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &c))
			return build_fail("vfio_fuzz: SET_CONTAINER %s: %s\n", fx.grp[i].path,
					  strerror(errno));
	}
	if (ioctl(c, VFIO_SET_IOMMU, fx.iommu_type))
		return build_fail("vfio_fuzz: SET_IOMMU %d: %s\n", fx.iommu_type, strerror(errno));
	for (int i = 0; i < fx.ndev; i++) {
		fd = open_device(&fx.dev[i]);
		if (fd < 0)
			return build_fail("vfio_fuzz: GET_DEVICE_FD %s: %s\n", fx.dev[i].bdf,
					  strerror(errno));
		slot_set(fx.dev[i].slot, fd);
	}
	for (int i = 0; i < NEFD; i++)
		slot_set(SL_EFD0 + i, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	atomic_store(&fx.config_dirty, 0);
	return 0;
}

static void close_all(void)
{
	for (int i = 0; i < fx.ndev; i++)
		slot_close(fx.dev[i].slot);
	for (int i = 0; i < fx.ngrp; i++)
		slot_close(fx.grp[i].slot);
	slot_close(SL_CONT);
	slot_close(SL_CONT2);
	for (int i = 0; i < NEFD; i++)
		slot_close(SL_EFD0 + i);
}

static void fatal(const char *what)
{
	printf("vfio_fuzz: FAIL: %s (seed %llu)\n", what, (unsigned long long)opt.seed);
	fflush(stdout);
	_exit(1);
}

/*
 * Closes everything and sets it up again. Other threads may still hold the old fd numbers
 * and hit the new files with them (a SET_IOMMU, UNSET_CONTAINER or SET_CONTAINER landing on
 * the new container or group): such a build is thrown away and redone, a few times.
 */
static void rebuild(void)
{
	int tries;

	for (int s = 0; s < NSLOTS; s++)
		slot_begin(s);
	for (tries = 0; tries < 20; tries++) {
		close_all();
		quiet_build = tries < 19;
		if (!build_all())
			break;
		atomic_fetch_add(&rebuild_retries, 1);
		usleep(10000);
	}
	quiet_build = 0;
	if (tries == 20)
		fatal("could not set the container, groups and devices up again");
	for (int s = NSLOTS - 1; s >= 0; s--)
		slot_end(s);
}

/*
 * Thread 0's fd churn: reopen a device fd; detach a group (its devices closed) and attach it
 * again while the other group keeps the container and its mappings; reopen a group fd;
 * reopen eventfds; rebuild everything. Other threads keep using the old numbers meanwhile.
 */
static int op_x_chaos(struct thr *t)
{
	int what = rn(t, 10), res = 0;
	struct fdev *d = pick_dev(t);
	struct grp *g = &fx.grp[d->grp];
	int c;

	pthread_mutex_lock(&fx.chaos_lock);
	if (atomic_load(&fx.config_dirty))
		what = 9;
	switch (what) {
	case 0: case 1: case 2: case 3:
		desc(t, "reopen device %s", d->name);
		slot_begin(d->slot);
		slot_close(d->slot);
		slot_set(d->slot, open_device(d));
		res = atomic_load(&fx.slots[d->slot].fd) < 0 ? errno : 0;
		slot_end(d->slot);
		break;
	case 4: case 5:
	case 6: {
		int reopen = what == 6;

		desc(t, "%s group %d", reopen ? "reopen" : "detach+attach", g->id);
		slot_begin(g->slot);
		for (int i = 0; i < fx.ndev; i++)
			if (fx.dev[i].grp == d->grp) {
				slot_begin(fx.dev[i].slot);
				slot_close(fx.dev[i].slot);
			}
		if (reopen) {
			slot_close(g->slot);
			for (int tries = 0; tries < 300; tries++) {
				slot_set(g->slot, open(g->path, O_RDWR | O_CLOEXEC));
				if (atomic_load(&fx.slots[g->slot].fd) >= 0 || errno != EBUSY)
					break;
				usleep(10000);
			}
		} else if (ioctl(atomic_load(&fx.slots[g->slot].fd), VFIO_GROUP_UNSET_CONTAINER)) {
			res = errno;
		}
		c = atomic_load(&fx.slots[SL_CONT].fd);
		if (!res && ioctl(atomic_load(&fx.slots[g->slot].fd), VFIO_GROUP_SET_CONTAINER, &c))
			res = errno;
		/* The last group out took the IOMMU with it: set it again (else -EINVAL). */
		if (!res && ioctl(c, VFIO_SET_IOMMU, fx.iommu_type) && errno != EINVAL)
			res = errno;
		for (int i = fx.ndev - 1; i >= 0; i--)
			if (fx.dev[i].grp == d->grp) {
				if (!res)
					slot_set(fx.dev[i].slot, open_device(&fx.dev[i]));
				if (atomic_load(&fx.slots[fx.dev[i].slot].fd) < 0 && !res)
					res = errno;
				slot_end(fx.dev[i].slot);
			}
		slot_end(g->slot);
		break;
	}
	case 7: case 8:
		desc(t, "reopen eventfds");
		for (int i = 0; i < NEFD; i++) {
			if (chance(t, 50))
				continue;
			slot_begin(SL_EFD0 + i);
			slot_close(SL_EFD0 + i);
			slot_set(SL_EFD0 + i, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
			slot_end(SL_EFD0 + i);
		}
		break;
	default:
		desc(t, "rebuild%s", atomic_load(&fx.config_dirty) ? " (configuration changed)" : "");
		rebuild();
		break;
	}
	/* Anything left half-done (a racing UNSET_CONTAINER) is rebuilt from scratch. */
	if (res) {
		desc(t, " -> %s, rebuild", errname(res));
		rebuild();
	}
	pthread_mutex_unlock(&fx.chaos_lock);
	return res;
}

/* ------------------------------------------------------------------ op table */

struct op {
	const char *name;
	op_fn fn;
	int weight;	/* per 10000 calls */
};

#define OPS(X)								\
	X(c_version, 100) X(c_check_ext, 200) X(c_set_iommu, 100)	\
	X(c_get_info, 300) X(c_map, 1300) X(c_unmap, 800)		\
	X(c_dirty, 150) X(c_unknown, 100)				\
	X(g_status, 200) X(g_set_container, 150) X(g_unset, 80)		\
	X(g_device_fd, 150) X(g_unknown, 50)				\
	X(d_info, 200) X(d_region_info, 400) X(d_irq_info, 200)		\
	X(d_set_irqs, 900) X(d_reset, 2) X(d_feature, 250)		\
	X(d_unknown, 150) X(d_hot_reset_info, 50) X(d_hot_reset, 3)	\
	X(d_ioeventfd, 150) X(d_read, 1300) X(d_write, 700)		\
	X(d_cfg_write, 600) X(d_mmap, 400) X(d_bar_dma, 100)		\
	X(x_chaos, 0)

#define OP_ENUM(n, w) OP_##n,
enum { OPS(OP_ENUM) NOPS };
#define OP_ENTRY(n, w) { #n, op_##n, w },
static struct op ops[NOPS] = { OPS(OP_ENTRY) };

static int op_cum[NOPS];
static int op_total;

static const char *op_name(int op)
{
	return op >= 0 && op < NOPS ? ops[op].name : "?";
}

static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* The uAPI rvfio leaves out on purpose or has not yet (README): not in --common runs. */
static const char common_skip[] = "c_dirty";

static void setup_weights(void)
{
	int total = 0;

	for (int i = 0; i < NOPS; i++) {
		if ((opt.only && !in_list(opt.only, ops[i].name)) || in_list(opt.skip, ops[i].name) ||
		    (opt.common && in_list(common_skip, ops[i].name)))
			ops[i].weight = 0;
		total += ops[i].weight;
		op_cum[i] = total;
	}
	op_total = total;
}

static int pick_op(struct thr *t)
{
	int r = rn(t, op_total);
	int lo = 0, hi = NOPS - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (op_cum[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void run_one(struct thr *t, int op)
{
	u64 start, lat;
	int res;

	t->desc[0] = t->out[0] = '\0';
	t->has_val = 0;
	/*
	 * Every call draws from its own stream (seed, phase, thread, index): what one call
	 * does never depends on how earlier calls ended, so records of two stacks stay aligned.
	 */
	t->rng = opt.seed * 0x100000001b3ULL ^ (u64)fx.phase << 56 ^ (u64)t->id << 48 ^ t->done;
	rnd(t);
	atomic_store(&t->wd_op, op);
	start = mono_ms();
	atomic_store(&t->wd_start, start);
	res = ops[op].fn(t);
	lat = mono_ms() - start;
	atomic_store(&t->wd_start, 0);
	t->stats[op][res < NERR ? res : NERR - 1]++;
	if (lat > t->lat_max) {
		t->lat_max = lat;
		t->lat_max_op = op;
		memcpy(t->lat_max_desc, t->desc, sizeof(t->desc));
	}
	if (rec) {
		char val[32] = "", cmd[96] = "";

		if (t->has_val)
			snprintf(val, sizeof(val), ":%lld", t->val);
		/*
		 * Single-threaded records also carry each device's (virtual) COMMAND and PMCSR
		 * after the call, so that a diff shows the call that made them diverge.
		 */
		for (int i = 0; fx.single && i < fx.ndev; i++) {
			int fd = atomic_load(&fx.slots[fx.dev[i].slot].fd);

			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s.cmd=%llx",
				 fx.dev[i].name, fd >= 0 ? cfg_read(fd, PCI_COMMAND, 2) : -1LL);
			if (fx.dev[i].pm_cap)
				snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), ",pm=%llx",
					 fd >= 0 ? cfg_read(fd, fx.dev[i].pm_cap + PCI_PM_CTRL, 2)
						 : -1LL);
		}
		fprintf(rec, "%llu %s %s = %s%s%s%s%s\n", (unsigned long long)t->done, ops[op].name,
			t->desc, errname(res), val, t->out[0] ? " " : "", t->out, cmd);
	}
	if (opt.verbose > 1)
		printf("vfio_fuzz: [%d] %llu %s %s = %s %s\n", t->id, (unsigned long long)t->done,
		       ops[op].name, t->desc, errname(res), t->out);
	t->done++;
}

static void *thread_main(void *arg)
{
	struct thr *t = arg;

	cur = t;
	t->tid = syscall(SYS_gettid);
	for (u64 i = 0; i < t->ncalls; i++) {
		u64 saved = t->rng;
		int op;

		/* The op is drawn from the call's stream too. */
		t->rng = opt.seed * 0x9e3779b97f4a7c15ULL ^ (u64)fx.phase << 56 ^ (u64)t->id << 48 ^
			 t->done;
		rnd(t);
		if (t->id == 0 && opt.chaos && rn(t, opt.chaos) == 0)
			op = OP_x_chaos;
		else
			op = pick_op(t);
		t->rng = saved;
		run_one(t, op);
	}
	return NULL;
}

/* ------------------------------------------------------------------ set-up */

static void setup_thread_memory(struct thr *t)
{
	int mfd;

	t->scratch = map_or_die(SCRATCH_SIZE + PG, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (mprotect(t->scratch + SCRATCH_SIZE, PG, PROT_NONE))
		exit(1);
	mfd = memfd_create("vfio_fuzz_view", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, RO_SIZE))
		exit(1);
	t->rw_view = map_or_die(RO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
	t->ro_view = map_or_die(RO_SIZE, PROT_READ, MAP_SHARED, mfd);
	close(mfd);
	t->stats = calloc(NOPS, sizeof(*t->stats));
	if (!t->stats)
		exit(1);
}

/* Region sizes, IRQ counts, capability offsets, the MSI-X table: what the edges come from. */
static int probe_device(struct fdev *d)
{
	int fd = atomic_load(&fx.slots[d->slot].fd);
	struct vfio_device_info info = { .argsz = sizeof(info) };
	char path[128], buf[16];
	FILE *f;

	if (ioctl(fd, VFIO_DEVICE_GET_INFO, &info))
		return -1;
	d->num_regions = info.num_regions;
	d->num_irqs = info.num_irqs;
	for (u32 i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		struct vfio_region_info ri;

		if (!region_info(fd, i, &ri)) {
			d->reg[i].size = ri.size;
			d->reg[i].flags = ri.flags;
		}
	}
	for (u32 i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
		struct vfio_irq_info ii;

		if (!irq_info(fd, i, &ii))
			d->irq_count[i] = ii.count;
	}
	d->cfg_size = d->reg[VFIO_PCI_CONFIG_REGION_INDEX].size;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", d->bdf);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		return -1;
	fclose(f);
	d->vendor = strtoll(buf, NULL, 16);

	/* Standard then extended capabilities, through the (virtualised) config space. */
	d->msix_bar = -1;
	for (long long pos = cfg_read(fd, PCI_CAPABILITY_LIST, 1), hops = 0;
	     pos >= 0x40 && hops < 48 && d->ncaps < 24; hops++) {
		long long id = cfg_read(fd, pos, 1);

		d->caps[d->ncaps++] = pos;
		if (id == PCI_CAP_ID_PM)
			d->pm_cap = pos;
		if (id == PCI_CAP_ID_MSIX) {
			long long tbl = cfg_read(fd, pos + PCI_MSIX_TABLE, 4);
			long long ctl = cfg_read(fd, pos + PCI_MSIX_FLAGS, 2);

			d->msix_bar = tbl & PCI_MSIX_TABLE_BIR;
			d->msix_off = tbl & PCI_MSIX_TABLE_OFFSET;
			d->msix_size = 16 * ((ctl & PCI_MSIX_FLAGS_QSIZE) + 1);
		}
		pos = cfg_read(fd, pos + 1, 1) & ~3;
	}
	for (long long pos = 0x100, hops = 0; d->cfg_size > 0x100 && pos >= 0x100 && hops < 32 &&
	     d->ncaps < 32; hops++) {
		long long hdr = cfg_read(fd, pos, 4);

		if (hdr <= 0 || hdr == 0xffffffff || pos + 4 > d->cfg_size)
			break;
		d->caps[d->ncaps++] = pos;
		pos = PCI_EXT_CAP_NEXT(hdr);
	}
	if (opt.verbose) {
		printf("vfio_fuzz: %s %s: %u regions, %u irqs, cfg %u, %d caps", d->name, d->bdf,
		       d->num_regions, d->num_irqs, d->cfg_size, d->ncaps);
		for (int i = 0; i < VFIO_PCI_NUM_REGIONS; i++)
			printf(" r%d=%#llx/%#x", i, (unsigned long long)d->reg[i].size,
			       d->reg[i].flags);
		printf(" irqs");
		for (int i = 0; i < VFIO_PCI_NUM_IRQS; i++)
			printf(" %u", d->irq_count[i]);
		printf("\n");
	}
	return 0;
}

/* The end of the IOMMU's IOVA space, from the IOVA_RANGE capability. */
static void probe_iova_top(void)
{
	struct vfio_iommu_type1_info *info = (void *)thr[0].scratch;
	int c = atomic_load(&fx.slots[SL_CONT].fd);
	u32 off;

	fx.iova_top = (1ULL << 48) - 1;
	memset(info, 0, 4096);
	info->argsz = 4096;
	if (ioctl(c, VFIO_IOMMU_GET_INFO, info) || !(info->flags & VFIO_IOMMU_INFO_CAPS))
		return;
	for (off = info->cap_offset; off && off < 4096;) {
		struct vfio_info_cap_header *h = (void *)((u8 *)info + off);

		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;

			if (r->nr_iovas)
				fx.iova_top = r->iova_ranges[r->nr_iovas - 1].end;
		}
		off = h->next;
	}
}

static int add_device(const char *name, const char *env)
{
	const char *bdf = test_bdf(env);
	struct fdev *d = &fx.dev[fx.ndev];
	int gid, i;

	if (!bdf)
		return 0;
	gid = iommu_group_of(bdf);
	if (gid < 0) {
		printf("vfio_fuzz: %s %s has no IOMMU group\n", name, bdf);
		return -1;
	}
	for (i = 0; i < fx.ngrp && fx.grp[i].id != gid; i++)
		;
	if (i == fx.ngrp) {
		fx.grp[i].id = gid;
		fx.grp[i].slot = SL_GRP0 + i;
		snprintf(fx.grp[i].path, sizeof(fx.grp[i].path), "/dev/vfio/%d", gid);
		fx.ngrp++;
	}
	d->name = name;
	d->bdf = bdf;
	d->is_edu = !strcmp(name, "edu");
	d->grp = i;
	d->slot = SL_DEV0 + fx.ndev;
	fx.ndev++;
	return 0;
}

/* ------------------------------------------------------------------ after a phase */

static int check(int cond, const char *what)
{
	if (!cond)
		printf("vfio_fuzz: SANITY FAIL: %s\n", what);
	return cond ? 0 : 1;
}

/* What the device looks like through the fd and in sysfs, after a failed sanity step. */
static void dump_device(struct fdev *d, int fd)
{
	u8 hw[64], cfg[64];

	printf("vfio_fuzz:   %s IRQ_INFO counts:", d->name);
	for (int j = 0; j < VFIO_PCI_NUM_IRQS; j++) {
		struct vfio_irq_info ii;
		int r = irq_info(fd, j, &ii);

		printf(" %s", r ? errname(-r) : "");
		if (!r)
			printf("%u(was %u)", ii.count, d->irq_count[j]);
	}
	printf("\n");
	if (sysfs_config(d->bdf, hw, sizeof(hw)) == sizeof(hw) &&
	    pread(fd, cfg, sizeof(cfg), region_off(VFIO_PCI_CONFIG_REGION_INDEX)) == sizeof(cfg)) {
		printf("vfio_fuzz:   config (fd/sysfs):");
		for (size_t j = 0; j < sizeof(hw); j++)
			printf("%s%02x/%02x", j % 16 ? " " : "\nvfio_fuzz:    ", cfg[j], hw[j]);
		printf("\n");
	}
}

/* The fixed sequence that must pass on the fds the fuzzing used. */
static int sanity(void)
{
	int c = atomic_load(&fx.slots[SL_CONT].fd);
	int fails = 0;
	u8 *page = fx.dma_pool;

	for (int i = 0; i < fx.ndev; i++) {
		struct fdev *d = &fx.dev[i];
		int fd = atomic_load(&fx.slots[d->slot].fd);
		struct vfio_device_info info = { .argsz = sizeof(info) };
		int efd, idx = d->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] ? VFIO_PCI_MSIX_IRQ_INDEX
								      : VFIO_PCI_MSI_IRQ_INDEX;
		char what[256];

		fails += check(!ioctl(fd, VFIO_DEVICE_GET_INFO, &info) &&
			       (info.flags & VFIO_DEVICE_FLAGS_PCI) &&
			       info.num_irqs == VFIO_PCI_NUM_IRQS, "GET_INFO");
		snprintf(what, sizeof(what), "%s config vendor id %#llx = sysfs %#llx", d->name,
			 cfg_read(fd, PCI_VENDOR_ID, 2), d->vendor);
		fails += check(cfg_read(fd, PCI_VENDOR_ID, 2) == d->vendor, what);
		if (!d->irq_count[idx])
			continue;
		/*
		 * Config writes may have left the device in D3hot, where MSI/MSI-X cannot be
		 * enabled (-EINVAL on both stacks): back to D0 through the virtualised PMCSR.
		 */
		if (d->pm_cap) {
			long long pmcsr = cfg_read(fd, d->pm_cap + PCI_PM_CTRL, 2);

			if (pmcsr >= 0 && (pmcsr & PCI_PM_CTRL_STATE_MASK))
				cfg_write(fd, d->pm_cap + PCI_PM_CTRL, 2,
					  pmcsr & ~PCI_PM_CTRL_STATE_MASK);
			pmcsr = cfg_read(fd, d->pm_cap + PCI_PM_CTRL, 2);
			snprintf(what, sizeof(what), "%s back in D0 (PMCSR %#llx)", d->name, pmcsr);
			fails += check(pmcsr >= 0 && !(pmcsr & PCI_PM_CTRL_STATE_MASK), what);
		}
		/* Whatever the fuzzing left enabled goes first (the others answer -EINVAL). */
		for (int j = VFIO_PCI_INTX_IRQ_INDEX; j <= VFIO_PCI_MSIX_IRQ_INDEX; j++)
			if (d->irq_count[j])
				disable_irqs(fd, j);
		efd = new_eventfd();
		{
			int set = set_irq_eventfds(fd, idx, 0, 1, &efd);
			int trig = trigger_irqs(fd, idx, 0, 1);
			__u64 n = eventfd_wait(efd, 2000);
			int dis = disable_irqs(fd, idx);

			snprintf(what, sizeof(what),
				 "%s %s loopback: enable %s, trigger %s, %llu signals, disable %s",
				 d->name, idx == VFIO_PCI_MSIX_IRQ_INDEX ? "MSI-X" : "MSI",
				 errname(-set), errname(-trig), (unsigned long long)n,
				 errname(-dis));
			fails += check(!set && !trig && n == 1 && !dis, what);
			if (set || trig || n != 1 || dis)
				dump_device(d, fd);
		}
		close(efd);
	}
	{
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)page, .iova = 0x7000000, .size = PG,
		};
		struct vfio_iommu_type1_dma_unmap u = {
			.argsz = sizeof(u), .iova = 0x7000000, .size = PG,
		};
		struct vfio_iommu_type1_dma_unmap all = {
			.argsz = sizeof(all), .flags = VFIO_DMA_UNMAP_FLAG_ALL,
		};

		fails += check(!ioctl(c, VFIO_IOMMU_UNMAP_DMA, &all), "UNMAP_DMA ALL");
		fails += check(!ioctl(c, VFIO_IOMMU_MAP_DMA, &m), "MAP_DMA of a page");
		fails += check(!ioctl(c, VFIO_IOMMU_UNMAP_DMA, &u) && u.size == PG,
			       "UNMAP_DMA of that page");
	}
	return fails;
}

/* ------------------------------------------------------------------ summary, diff */

static void summary(double secs, u64 calls)
{
	u64 tot[NOPS][NERR];
	u64 lat = 0, touch_ok = 0, touch_bus = 0;
	int lat_t = 0;

	memset(tot, 0, sizeof(tot));
	for (int i = 0; i < opt.threads; i++) {
		for (int o = 0; o < NOPS; o++)
			for (int e = 0; e < NERR; e++)
				tot[o][e] += thr[i].stats[o][e];
		if (thr[i].lat_max > lat) {
			lat = thr[i].lat_max;
			lat_t = i;
		}
		touch_ok += thr[i].touch_ok;
		touch_bus += thr[i].touch_sigbus;
	}
	printf("vfio_fuzz: %-16s %8s  results\n", "call", "count");
	for (int o = 0; o < NOPS; o++) {
		u64 n = 0;
		char line[512];
		size_t len = 0;

		for (int e = 0; e < NERR; e++)
			n += tot[o][e];
		if (!n)
			continue;
		for (int e = 0; e < NERR && len < sizeof(line) - 40; e++)
			if (tot[o][e])
				len += snprintf(line + len, sizeof(line) - len, " %s=%llu",
						e == NERR - 1 ? "E>=139" : errname(e),
						(unsigned long long)tot[o][e]);
		printf("vfio_fuzz: %-16s %8llu %s\n", ops[o].name, (unsigned long long)n, line);
	}
	printf("vfio_fuzz: mmap touches: %llu ok, %llu SIGBUS; set-ups redone after a stale-fd race: %d\n",
	       (unsigned long long)touch_ok, (unsigned long long)touch_bus,
	       atomic_load(&rebuild_retries));
	printf("vfio_fuzz: %llu calls in %.1f s: %.0f calls/s; slowest call %llu ms: %s %s\n",
	       (unsigned long long)calls, secs, calls / (secs > 0 ? secs : 1),
	       (unsigned long long)lat, op_name(thr[lat_t].lat_max_op), thr[lat_t].lat_max_desc);
}

/* The errno name of a record line's result ("ok" for success), into @buf. */
static const char *rec_errno(const char *line, char *buf, size_t size)
{
	const char *r = strstr(line, " = ");
	size_t n;

	if (!r)
		return "?";
	r += 3;
	n = strcspn(r, ": ");
	snprintf(buf, size, "%.*s", (int)n, r);
	return buf;
}

static int diff_context;	/* --diff-context N */

/*
 * Before the first example of a kind of difference: up to @n earlier lines of record A on
 * the same device (or any device: chaos, resets), oldest first, so the state that led
 * there can be read off.
 */
static void print_context(char ring[][640], int size, u64 line, const char *la, int n)
{
	const char *dev = strstr(la, "dev=");
	char tag[16] = "";
	int shown = 0, from;

	if (dev)
		snprintf(tag, sizeof(tag), "%.*s", (int)strcspn(dev, " "), dev);
	for (from = 1; from < size - 1 && (u64)from < line && shown < n; from++) {
		const char *l = ring[(line - from) % size];

		if (!tag[0] || strstr(l, tag) || strstr(l, "x_chaos") || strstr(l, "d_reset"))
			shown++;
	}
	printf("vfio_fuzz:   context (record A, %d lines before):\n", shown);
	for (from--; from > 0; from--) {
		const char *l = ring[(line - from) % size];

		if (!tag[0] || strstr(l, tag) || strstr(l, "x_chaos") || strstr(l, "d_reset"))
			printf("vfio_fuzz:     %s\n", l);
	}
}

/*
 * --diff A B: both records call by call; the differences grouped by call and the errno pair
 * (or "same errno, other value/output"), with a count and the first examples of each.
 * Differences after the first one may be consequences of it (state that diverged).
 */
static int diff_records(const char *a, const char *b)
{
	enum { NCAT = 256, NEX = 3, NCTX = 512 };
	static char ring[NCTX][640];	/* A's recent lines, for the context of a first example */
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	struct cat {
		char key[128];
		u64 n, first;
		char ex[NEX][2][640];
	} *cats = calloc(NCAT, sizeof(*cats));
	int ncats = 0;
	u64 lines = 0, diffs = 0;
	char la[1024], lb[1024];

	if (!fa || !fb || !cats) {
		perror("vfio_fuzz: --diff");
		return 1;
	}
	while (fgets(la, sizeof(la), fa) && fgets(lb, sizeof(lb), fb)) {
		char op[64] = "", ea[32], eb[32], key[128];
		int i;

		lines++;
		la[strcspn(la, "\n")] = lb[strcspn(lb, "\n")] = '\0';
		snprintf(ring[lines % NCTX], sizeof(ring[0]), "%.639s", la);
		if (!strcmp(la, lb))
			continue;
		diffs++;
		sscanf(la, "%*s %63s", op);
		rec_errno(la, ea, sizeof(ea));
		rec_errno(lb, eb, sizeof(eb));
		if (strcmp(ea, eb))
			snprintf(key, sizeof(key), "%s: %s | %s", op, ea, eb);
		else if (strncmp(la, lb, strstr(la, " = ") ? (size_t)(strstr(la, " = ") - la) : 0))
			snprintf(key, sizeof(key), "%s: different calls (diverged)", op);
		else
			snprintf(key, sizeof(key), "%s: %s, other value/output", op, ea);
		for (i = 0; i < ncats && strcmp(cats[i].key, key); i++)
			;
		if (i == ncats) {
			if (ncats == NCAT)
				continue;
			snprintf(cats[i].key, sizeof(cats[i].key), "%s", key);
			cats[i].first = lines;
			ncats++;
			if (diff_context)
				print_context(ring, NCTX, lines, la, diff_context);
		}
		if (cats[i].n < NEX) {
			snprintf(cats[i].ex[cats[i].n][0], 640, "%.639s", la);
			snprintf(cats[i].ex[cats[i].n][1], 640, "%.639s", lb);
		}
		cats[i].n++;
	}
	printf("vfio_fuzz: diff %s %s: %llu calls, %llu differ, %d kinds (by first occurrence)\n",
	       a, b, (unsigned long long)lines, (unsigned long long)diffs, ncats);
	for (int i = 0; i < ncats; i++) {
		printf("vfio_fuzz: %6llu x %s (first at call %llu)\n", (unsigned long long)cats[i].n,
		       cats[i].key, (unsigned long long)cats[i].first - 1);
		for (u64 j = 0; j < cats[i].n && j < NEX; j++)
			printf("vfio_fuzz:          A: %s\nvfio_fuzz:          B: %s\n", cats[i].ex[j][0],
			       cats[i].ex[j][1]);
	}
	return diffs ? 2 : 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	printf("usage: vfio_fuzz [--seed N] [--calls N] [--threads N] [--iommu v2|v1|both]\n"
	       "                 [--timeout S] [--chaos N] [--only OP,..] [--skip OP,..]\n"
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
	       type == VFIO_TYPE1v2_IOMMU ? "TYPE1v2" : "TYPE1", (unsigned long long)calls,
	       opt.threads, (unsigned long long)fx.iova_top);
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
		else if (!strcmp(a, "--iommu")) {
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
	setup_weights();
	if (!op_total) {
		printf("vfio_fuzz: no calls selected\n");
		return 1;
	}
	if (add_device("edu", "RVFIO_EDU_BDF") || add_device("igb", "RVFIO_IGB_BDF"))
		return 1;
	if (!fx.ndev) {
		printf("vfio_fuzz: SKIP: neither RVFIO_EDU_BDF nor RVFIO_IGB_BDF is set\n");
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
