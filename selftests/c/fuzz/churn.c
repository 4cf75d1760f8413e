// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: chaos: fd churn. Part of vfio_fuzz.c's translation unit. */

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

/* An ioctl's errno, 0 on success. */
static int io_res(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? errno : 0;
}

/*
 * UNSET_CONTAINER of a group whose device fds were just closed: a call of another thread
 * still in flight on one of them holds the device open a moment (-EBUSY), as in build_all().
 */
static int unset_group(int gfd)
{
	int res;

	for (int tries = 0; tries < 200; tries++) {
		res = io_res(gfd, VFIO_GROUP_UNSET_CONTAINER, NULL);
		if (res != EBUSY || fx.single)
			break;
		usleep(5000);
	}
	return res;
}

/*
 * --iommu noiommu only (weight 0 otherwise): a group through the spare container and back,
 * as a user would move it. Its devices closed, the group leaves the main container (the
 * other group keeps it and its backend) and joins the empty spare one, which then offers the
 * no-IOMMU backend only: type1 extensions answer 0 and SET_IOMMU of any other type is
 * -ENODEV; before SET_IOMMU its device cannot be opened and type1 ioctls are -EINVAL, after
 * it they are -ENOTTY and (half the time) the device is opened there and read; then out
 * again (the spare container loses its backend with its last group: -EINVAL once more),
 * back into the main container (SET_IOMMU -EINVAL while the other group kept the backend)
 * and its devices reopened. Every step's result is recorded; with one thread each must be
 * what is said here (with more, other calls may interleave: only recorded). Anything left
 * half-done is rebuilt, as chaos does.
 */
static int op_g_move(struct thr *t)
{
	struct grp *g = &fx.grp[rn(t, fx.ngrp)];
	u64 type = PICK(t, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_TYPE1v2_IOMMU,
			VFIO_SPAPR_TCE_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU, 0, VFIO_UNMAP_ALL,
			1ULL << 32 | VFIO_NOIOMMU_IOMMU);
	int open_there = chance(t, 50);
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)fx.dma_pool, .iova = 0x7000000, .size = PG,
	};
	int c, c2, gfd, fd, res = 0;
	struct fdev *d = NULL;

	/*
	 * Not behind another thread's move or chaos (each takes a while: the devices are reset
	 * on close and on open), which the watchdog would count as this call's time.
	 */
	if (pthread_mutex_trylock(&fx.chaos_lock)) {
		desc(t, "busy");
		return EAGAIN;
	}
	if (atomic_load(&fx.config_dirty)) {
		desc(t, "rebuild (configuration changed)");
		rebuild();
		pthread_mutex_unlock(&fx.chaos_lock);
		return 0;
	}
	desc(t, "group %d type=%#llx%s", (int)(g - fx.grp), (unsigned long long)type,
	     open_there ? " open" : "");
	slot_begin(g->slot);
	for (int i = 0; i < fx.ndev; i++)
		if (fx.dev[i].grp == g - fx.grp) {
			d = &fx.dev[i];
			slot_begin(d->slot);
			slot_close(d->slot);
		}
	gfd = atomic_load(&fx.slots[g->slot].fd);
	c = atomic_load(&fx.slots[SL_CONT].fd);
	c2 = atomic_load(&fx.slots[SL_CONT2].fd);

	/* A step's result @r against @want: recorded, checked with one thread, else undone. */
#define MOVE_STEP(name, r, want) ({						\
	int __r = (r), __w = (want);						\
	out(t, "%s=%s ", name, errname(__r));					\
	if (__r != __w) {							\
		if (fx.single)							\
			violation(t, __r, __w, "g_move: " name);		\
		res = __r ? __r : EPROTO;					\
		goto undo;							\
	}									\
})
#define MOVE_VALUE(name, r, want) ({						\
	long __v = (r);								\
	int __e = __v < 0 ? errno : 0;						\
	char __why[64];								\
	out(t, "%s=%ld ", name, __v < 0 ? -(long)__e : __v);			\
	if (__v != (want)) {							\
		snprintf(__why, sizeof(__why), "g_move: %s answers %ld, not %d",	\
			 name, __v, (want));					\
		if (fx.single)							\
			violation(t, __e, 0, __why);				\
		res = __e ? __e : EPROTO;					\
		goto undo;							\
	}									\
})
	MOVE_STEP("unset", unset_group(gfd), 0);
	MOVE_STEP("attach2", io_res(gfd, VFIO_GROUP_SET_CONTAINER, &c2), 0);
	MOVE_VALUE("ext8", ioctl(c2, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU), 1);
	MOVE_VALUE("ext3", ioctl(c2, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 0);
	if (d) {
		fd = open_device(d);
		if (fd >= 0)
			close(fd);
		MOVE_STEP("dev", fd < 0 ? errno : 0, EINVAL);
	}
	MOVE_STEP("map", io_res(c2, VFIO_IOMMU_MAP_DMA, &m), EINVAL);
	MOVE_STEP("type", io_res(c2, VFIO_SET_IOMMU, (void *)(uintptr_t)type), ENODEV);
	MOVE_STEP("set", io_res(c2, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_NOIOMMU_IOMMU), 0);
	MOVE_STEP("map", io_res(c2, VFIO_IOMMU_MAP_DMA, &m), ENOTTY);
	MOVE_VALUE("ext1", ioctl(c2, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU), 0);
	if (d && open_there) {
		fd = open_device(d);
		MOVE_STEP("open", fd < 0 ? errno : 0, 0);
		res = cfg_read(fd, PCI_VENDOR_ID, 2) == d->vendor ? 0 : EIO;
		close(fd);
		MOVE_STEP("vendor", res, 0);
	}
	MOVE_STEP("unset", unset_group(gfd), 0);
	MOVE_STEP("map", io_res(c2, VFIO_IOMMU_MAP_DMA, &m), EINVAL);
	MOVE_STEP("attach", io_res(gfd, VFIO_GROUP_SET_CONTAINER, &c), 0);
	/* The main container kept its backend unless this was its only group. */
	MOVE_STEP("set", io_res(c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_NOIOMMU_IOMMU),
		  fx.ngrp > 1 ? EINVAL : 0);
	for (int i = fx.ndev - 1; i >= 0; i--)
		if (fx.dev[i].grp == g - fx.grp) {
			slot_set(fx.dev[i].slot, open_device(&fx.dev[i]));
			MOVE_STEP("reopen", atomic_load(&fx.slots[fx.dev[i].slot].fd) < 0 ? errno : 0,
				  0);
		}
#undef MOVE_STEP
#undef MOVE_VALUE
undo:
	for (int i = fx.ndev - 1; i >= 0; i--)
		if (fx.dev[i].grp == g - fx.grp)
			slot_end(fx.dev[i].slot);
	slot_end(g->slot);
	if (res) {
		desc(t, " -> %s, rebuild", errname(res));
		if (opt.verbose)
			printf("vfio_fuzz: [%d] g_move %s: %s\n", t->id, t->desc, t->out);
		rebuild();
	}
	pthread_mutex_unlock(&fx.chaos_lock);
	return res;
}
