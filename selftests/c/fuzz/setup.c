// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: set-up. Part of vfio_fuzz.c's translation unit. */

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
		snprintf(fx.grp[i].path, sizeof(fx.grp[i].path), "/dev/vfio/%s%d",
			 opt.noiommu ? "noiommu-" : "", gid);
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
