// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: group ops. Part of vfio_fuzz.c's translation unit. */

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
