// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: device helpers and the IOVA/vaddr menus. Part of vfio_fuzz.c's translation unit. */

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
 * raise an interrupt: the NIC's BARs (igb's, or the e1000e's with --iommu noiommu) never
 * (only past their end), edu's BAR0 outside STATUS, IRQ_RAISE and DMA_CMD. Config, ROM and
 * other regions are always allowed.
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
