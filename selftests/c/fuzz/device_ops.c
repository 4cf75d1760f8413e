// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: device ops. Part of vfio_fuzz.c's translation unit. */

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
	/*
	 * A ROM's size is 0 while it cannot be read (pci_map_rom() finds no image: the device
	 * in D3hot, say), on both stacks; only the e1000e of the noiommu boot has one.
	 */
	if (!res && info.argsz >= minsz && info.index < VFIO_PCI_NUM_REGIONS &&
	    (p->index != info.index || p->offset != region_off(info.index) ||
	     (p->size != d->reg[info.index].size &&
	      !(info.index == VFIO_PCI_ROM_REGION_INDEX && !p->size))))
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
	 * loopback triggers do that): only on writes we would do ourselves, except the NIC's MSI-X
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

/*
 * A device's cdev (/dev/vfio/devices/vfioN, where the kernel has iommufd), opened beside its
 * group and never bound: the bind only ever gets fds that are no iommufd (the null device,
 * another VFIO fd, -1, a closed number), so it must fail; before a bind every other call is
 * -EINVAL, reads, writes and mmaps too (upstream's access check). The file is closed again.
 */
static int op_d_cdev(struct thr *t)
{
	struct fdev *d = &fx.dev[rn(t, fx.ndev)];
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt att = { .argsz = sizeof(att) };
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int what = rn(t, 6), fd, res = 0;
	void *map;
	u8 buf[8];

	desc(t, "dev=%s what=%d", d->name, what);
	fd = open_cdev(d->bdf);
	if (fd < 0)
		return errno;
	switch (what) {
	case 0:
		bind.iommufd = PICK(t, fx.nullfd, ref(SL_GRP0).fd, ref(SL_CONT).fd, -1, 1000);
		bind.flags = chance(t, 80) ? 0 : rnd(t);
		bind.argsz = pick_argsz(t, sizeof(bind), offsetofend(struct vfio_device_bind_iommufd,
								   out_devid));
		desc(t, " bind iommufd=%d flags=%#x argsz=%u", bind.iommufd, bind.flags, bind.argsz);
		res = result(t, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
		if (!res)
			violation(t, res, EBADFD, "a cdev bound to a file that is no iommufd");
		break;
	case 1:
		att.pt_id = rnd(t);
		res = result(t, ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &att));
		expect(t, 1, res, EINVAL, "ATTACH_IOMMUFD_PT before a bind");
		break;
	case 2:
		res = result(t, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
		expect(t, 1, res, EINVAL, "GET_INFO before a bind");
		break;
	case 3:
		res = result(t, ioctl(fd, PICK(t, VFIO_DEVICE_RESET, VFIO_DEVICE_DETACH_IOMMUFD_PT,
					       VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_FEATURE), buf));
		expect(t, 1, res, EINVAL, "a device ioctl before a bind");
		break;
	case 4:
		res = result(t, pread(fd, buf, 4, rn(t, VFIO_PCI_NUM_REGIONS) * REGION_OFFSET(1)));
		expect(t, 1, res, EINVAL, "a read before a bind");
		break;
	default:
		map = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
		res = map == MAP_FAILED ? errno : 0;
		if (map != MAP_FAILED)
			munmap(map, PG);
		expect(t, 1, res, EINVAL, "an mmap before a bind");
		break;
	}
	close(fd);
	return res;
}

