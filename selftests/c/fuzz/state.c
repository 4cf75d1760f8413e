// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: shared and per-thread state, randomness, output helpers. Part of vfio_fuzz.c's translation unit. */

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
	int noiommu;		/* --iommu noiommu: one phase, no-IOMMU groups and backend */
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
	char out[256];
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
