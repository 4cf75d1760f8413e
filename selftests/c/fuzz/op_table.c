// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: the op table. Part of vfio_fuzz.c's translation unit. */

/* ------------------------------------------------------------------ op table */

struct op {
	const char *name;
	op_fn fn;
	int weight;	/* per 10000 calls */
};

/*
 * x_chaos is thread 0's (one in --chaos calls); g_move is --iommu noiommu's only and d_cdev
 * the type1 modes' where the kernel has iommufd (main() gives them their weights), last, so
 * that the other modes draw exactly the calls they always did. (No-IOMMU devices have no
 * cdev on rvfio; upstream's CONFIG_IOMMUFD_NOIOMMU makes them one.)
 */
#define G_MOVE_WEIGHT 30
#define D_CDEV_WEIGHT 60

#define OPS(X)								\
	X(c_version, 100) X(c_check_ext, 200) X(c_set_iommu, 100)	\
	X(c_get_info, 300) X(c_map, 1300) X(c_unmap, 800)		\
	X(c_dirty, 150) X(c_unknown, 100)				\
	X(g_status, 200) X(g_set_container, 150) X(g_unset, 80)		\
	X(g_device_fd, 150) X(g_unknown, 50)				\
	X(d_info, 200) X(d_region_info, 400) X(d_irq_info, 200)		\
	X(d_set_irqs, 900) X(d_reset, 2) X(d_feature, 250)		\
	X(d_unknown, 150) X(d_hot_reset_info, 50) X(d_hot_reset, 3)	\
	X(d_ioeventfd, 150) X(d_read, 1300) X(d_write, 700)		\
	X(d_cfg_write, 600) X(d_mmap, 400) X(d_bar_dma, 100)		\
	X(x_chaos, 0) X(g_move, 0) X(d_cdev, 0)

#define OP_ENUM(n, w) OP_##n,
enum { OPS(OP_ENUM) NOPS };
#define OP_ENTRY(n, w) { #n, op_##n, w },
static struct op ops[NOPS] = { OPS(OP_ENTRY) };

static int op_cum[NOPS];
static int op_total;

static const char *op_name(int op)
{
	return op >= 0 && op < NOPS ? ops[op].name : "?";
}

static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

static void setup_weights(void)
{
	int total = 0;

	for (int i = 0; i < NOPS; i++) {
		if ((opt.only && !in_list(opt.only, ops[i].name)) || in_list(opt.skip, ops[i].name))
			ops[i].weight = 0;
		total += ops[i].weight;
		op_cum[i] = total;
	}
	op_total = total;
}

static int pick_op(struct thr *t)
{
	int r = rn(t, op_total);
	int lo = 0, hi = NOPS - 1;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (op_cum[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void run_one(struct thr *t, int op)
{
	u64 start, lat;
	int res;

	t->desc[0] = t->out[0] = '\0';
	t->has_val = 0;
	/*
	 * Every call draws from its own stream (seed, phase, thread, index): what one call
	 * does never depends on how earlier calls ended, so records of two stacks stay aligned.
	 */
	t->rng = opt.seed * 0x100000001b3ULL ^ (u64)fx.phase << 56 ^ (u64)t->id << 48 ^ t->done;
	rnd(t);
	atomic_store(&t->wd_op, op);
	start = mono_ms();
	atomic_store(&t->wd_start, start);
	res = ops[op].fn(t);
	lat = mono_ms() - start;
	atomic_store(&t->wd_start, 0);
	t->stats[op][res < NERR ? res : NERR - 1]++;
	if (lat > t->lat_max) {
		t->lat_max = lat;
		t->lat_max_op = op;
		memcpy(t->lat_max_desc, t->desc, sizeof(t->desc));
	}
	if (rec) {
		char val[32] = "", cmd[96] = "";

		if (t->has_val)
			snprintf(val, sizeof(val), ":%lld", t->val);
		/*
		 * Single-threaded records also carry each device's (virtual) COMMAND and PMCSR
		 * after the call, so that a diff shows the call that made them diverge.
		 */
		for (int i = 0; fx.single && i < fx.ndev; i++) {
			int fd = atomic_load(&fx.slots[fx.dev[i].slot].fd);

			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s.cmd=%llx",
				 fx.dev[i].name, fd >= 0 ? cfg_read(fd, PCI_COMMAND, 2) : -1LL);
			if (fx.dev[i].pm_cap)
				snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), ",pm=%llx",
					 fd >= 0 ? cfg_read(fd, fx.dev[i].pm_cap + PCI_PM_CTRL, 2)
						 : -1LL);
		}
		fprintf(rec, "%llu %s %s = %s%s%s%s%s\n", (unsigned long long)t->done, ops[op].name,
			t->desc, errname(res), val, t->out[0] ? " " : "", t->out, cmd);
	}
	if (opt.verbose > 1)
		printf("vfio_fuzz: [%d] %llu %s %s = %s %s\n", t->id, (unsigned long long)t->done,
		       ops[op].name, t->desc, errname(res), t->out);
	t->done++;
}

static void *thread_main(void *arg)
{
	struct thr *t = arg;

	cur = t;
	t->tid = syscall(SYS_gettid);
	for (u64 i = 0; i < t->ncalls; i++) {
		u64 saved = t->rng;
		int op;

		/* The op is drawn from the call's stream too. */
		t->rng = opt.seed * 0x9e3779b97f4a7c15ULL ^ (u64)fx.phase << 56 ^ (u64)t->id << 48 ^
			 t->done;
		rnd(t);
		if (t->id == 0 && opt.chaos && rn(t, opt.chaos) == 0)
			op = OP_x_chaos;
		else
			op = pick_op(t);
		t->rng = saved;
		run_one(t, op);
	}
	return NULL;
}
