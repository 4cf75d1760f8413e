// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: memory arenas, fd slots, user pointers. Part of vfio_fuzz.c's translation unit. */

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
