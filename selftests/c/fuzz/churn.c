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
