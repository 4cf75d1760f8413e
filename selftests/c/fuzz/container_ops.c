// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: container ops. Part of vfio_fuzz.c's translation unit. */

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

/*
 * --iommu noiommu: a type1 ioctl (MAP/UNMAP_DMA, GET_INFO, DIRTY_PAGES) on a container gets
 * -ENOTTY from the no-IOMMU backend, whatever its argument (nothing is read), and -EINVAL
 * before a backend is set; no container of this boot can have another. With one thread and
 * the configuration as built, the main container has the backend and the spare one none.
 * @dirty: fx.config_dirty before the call. Returns whether it checked (noiommu mode).
 */
static int noiommu_type1_ioctl(struct thr *t, struct fdref c, int dirty, int res)
{
	if (!opt.noiommu)
		return 0;
	if (!stable(c) || !slot_is_container(c.slot))
		return 1;
	if (res != ENOTTY && res != EINVAL)
		violation(t, res, ENOTTY, "type1 ioctl on a no-IOMMU container");
	else if (c.slot == SL_CONT)
		expect(t, fx.single && !dirty, res, ENOTTY, "type1 ioctl with the no-IOMMU backend");
	else
		expect(t, fx.single && !dirty, res, EINVAL, "type1 ioctl before SET_IOMMU");
	return 1;
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
	int dirty = atomic_load(&fx.config_dirty);
	int type1, res;

	desc(t, "fd=%d/%d ext=%#llx", c.fd, c.slot, (unsigned long long)ext);
	res = result(t, ioctl(c.fd, VFIO_CHECK_EXTENSION, ext));
	out(t, "%lld", res ? -1LL : t->val);
	if (stable(c) && slot_is_container(c.slot)) {
		type1 = ext == VFIO_TYPE1_IOMMU || ext == VFIO_TYPE1v2_IOMMU || ext == VFIO_UNMAP_ALL;
		expect(t, 1, res, 0, "CHECK_EXTENSION never fails");
		if (!res && t->val != 0 && t->val != 1)
			violation(t, res, 0, "CHECK_EXTENSION answers 0 or 1");
		if (!res && ext > 10 && t->val)
			violation(t, res, 0, "unknown extension answers 0");
		if (!opt.noiommu && !res && type1 && t->val != 1)
			violation(t, res, 0, "type1 extensions answer 1");
		/*
		 * noiommu: the mode is on, so every container offers the no-IOMMU backend; type1
		 * only one without a no-IOMMU group (the spare container as built: type1 is loaded).
		 */
		if (opt.noiommu && !res && ext == VFIO_NOIOMMU_IOMMU && t->val != 1)
			violation(t, res, 0, "the no-IOMMU extension answers 1");
		if (opt.noiommu && fx.single && !dirty && !res && type1 &&
		    t->val != (c.slot == SL_CONT2))
			violation(t, res, 0, c.slot == SL_CONT2 ?
				  "type1 extensions answer 1 on a container without groups" :
				  "type1 extensions answer 0 on a no-IOMMU container");
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
	/*
	 * noiommu: only the no-IOMMU backend is ever set; any other type is -ENODEV on a
	 * container holding a no-IOMMU group (none offers it), -EINVAL on a set or empty one.
	 */
	if (opt.noiommu && stable(c) && slot_is_container(c.slot) &&
	    type != VFIO_NOIOMMU_IOMMU && res != EINVAL && res != ENODEV)
		violation(t, res, ENODEV, "SET_IOMMU of another type on a no-IOMMU boot");
	return res;
}

static int op_c_get_info(struct thr *t)
{
	struct fdref c = pick_container(t);
	struct vfio_iommu_type1_info info;
	u32 minsz = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
	int dirty = atomic_load(&fx.config_dirty);
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
	if (noiommu_type1_ioctl(t, c, dirty, res))
		return res;
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

static u32 pick_map_flags(struct thr *t)
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
	if (noiommu_type1_ioctl(t, c, dirty, res))
		return res;
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
		/* Without an IOMMU set every MAP is -EINVAL. */
		expect(t, fx.single && !dirty && c.slot == SL_CONT, res, EOVERFLOW,
		       "iova/vaddr + size wraps");
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
	if (noiommu_type1_ioctl(t, c, dirty, res))
		return res;
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
	int dirty = atomic_load(&fx.config_dirty);
	int k = pick_pk(t, 90);
	void *p;
	int res;

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
	res = result(t, ioctl(c.fd, VFIO_IOMMU_DIRTY_PAGES, p));
	noiommu_type1_ioctl(t, c, dirty, res);
	return res;
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
