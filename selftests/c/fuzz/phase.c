// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: the sanity sequence after a phase. Part of vfio_fuzz.c's translation unit. */

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
	if (opt.noiommu) {
		/*
		 * No MAP+UNMAP probe: the no-IOMMU backend is still the container's, offers only
		 * itself and maps nothing.
		 */
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)page, .iova = 0x7000000, .size = PG,
		};
		struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };

		fails += check(ioctl(c, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU) == 1,
			       "CHECK_EXTENSION(NOIOMMU) is 1");
		fails += check(ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 0,
			       "CHECK_EXTENSION(TYPE1v2) is 0");
		fails += check(ioctl(c, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU) == -1 && errno == EINVAL,
			       "SET_IOMMU(NOIOMMU) again is -EINVAL");
		fails += check(ioctl(c, VFIO_IOMMU_MAP_DMA, &m) == -1 && errno == ENOTTY,
			       "MAP_DMA is -ENOTTY");
		fails += check(ioctl(c, VFIO_IOMMU_GET_INFO, &info) == -1 && errno == ENOTTY,
			       "IOMMU_GET_INFO is -ENOTTY");
		return fails;
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
