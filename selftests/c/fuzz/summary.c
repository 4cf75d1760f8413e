// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: summary and the replay diff. Part of vfio_fuzz.c's translation unit. */

/* ------------------------------------------------------------------ summary, diff */

static void summary(double secs, u64 calls)
{
	u64 tot[NOPS][NERR];
	u64 lat = 0, touch_ok = 0, touch_bus = 0;
	int lat_t = 0;

	memset(tot, 0, sizeof(tot));
	for (int i = 0; i < opt.threads; i++) {
		for (int o = 0; o < NOPS; o++)
			for (int e = 0; e < NERR; e++)
				tot[o][e] += thr[i].stats[o][e];
		if (thr[i].lat_max > lat) {
			lat = thr[i].lat_max;
			lat_t = i;
		}
		touch_ok += thr[i].touch_ok;
		touch_bus += thr[i].touch_sigbus;
	}
	printf("vfio_fuzz: %-16s %8s  results\n", "call", "count");
	for (int o = 0; o < NOPS; o++) {
		u64 n = 0;
		char line[512];
		size_t len = 0;

		for (int e = 0; e < NERR; e++)
			n += tot[o][e];
		if (!n)
			continue;
		for (int e = 0; e < NERR && len < sizeof(line) - 40; e++)
			if (tot[o][e])
				len += snprintf(line + len, sizeof(line) - len, " %s=%llu",
						e == NERR - 1 ? "E>=139" : errname(e),
						(unsigned long long)tot[o][e]);
		printf("vfio_fuzz: %-16s %8llu %s\n", ops[o].name, (unsigned long long)n, line);
	}
	printf("vfio_fuzz: mmap touches: %llu ok, %llu SIGBUS; set-ups redone after a stale-fd race: %d\n",
	       (unsigned long long)touch_ok, (unsigned long long)touch_bus,
	       atomic_load(&rebuild_retries));
	printf("vfio_fuzz: %llu calls in %.1f s: %.0f calls/s; slowest call %llu ms: %s %s\n",
	       (unsigned long long)calls, secs, calls / (secs > 0 ? secs : 1),
	       (unsigned long long)lat, op_name(thr[lat_t].lat_max_op), thr[lat_t].lat_max_desc);
}

/* The errno name of a record line's result ("ok" for success), into @buf. */
static const char *rec_errno(const char *line, char *buf, size_t size)
{
	const char *r = strstr(line, " = ");
	size_t n;

	if (!r)
		return "?";
	r += 3;
	n = strcspn(r, ": ");
	snprintf(buf, size, "%.*s", (int)n, r);
	return buf;
}

static int diff_context;	/* --diff-context N */

/*
 * Before the first example of a kind of difference: up to @n earlier lines of record A on
 * the same device (or any device: chaos, resets), oldest first, so the state that led
 * there can be read off.
 */
static void print_context(char ring[][640], int size, u64 line, const char *la, int n)
{
	const char *dev = strstr(la, "dev=");
	char tag[16] = "";
	int shown = 0, from;

	if (dev)
		snprintf(tag, sizeof(tag), "%.*s", (int)strcspn(dev, " "), dev);
	for (from = 1; from < size - 1 && (u64)from < line && shown < n; from++) {
		const char *l = ring[(line - from) % size];

		if (!tag[0] || strstr(l, tag) || strstr(l, "x_chaos") || strstr(l, "d_reset"))
			shown++;
	}
	printf("vfio_fuzz:   context (record A, %d lines before):\n", shown);
	for (from--; from > 0; from--) {
		const char *l = ring[(line - from) % size];

		if (!tag[0] || strstr(l, tag) || strstr(l, "x_chaos") || strstr(l, "d_reset"))
			printf("vfio_fuzz:     %s\n", l);
	}
}

/*
 * --diff A B: both records call by call; the differences grouped by call and the errno pair
 * (or "same errno, other value/output"), with a count and the first examples of each.
 * Differences after the first one may be consequences of it (state that diverged).
 */
static int diff_records(const char *a, const char *b)
{
	enum { NCAT = 256, NEX = 3, NCTX = 512 };
	static char ring[NCTX][640];	/* A's recent lines, for the context of a first example */
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	struct cat {
		char key[128];
		u64 n, first;
		char ex[NEX][2][640];
	} *cats = calloc(NCAT, sizeof(*cats));
	int ncats = 0;
	u64 lines = 0, diffs = 0;
	char la[1024], lb[1024];

	if (!fa || !fb || !cats) {
		perror("vfio_fuzz: --diff");
		return 1;
	}
	while (fgets(la, sizeof(la), fa) && fgets(lb, sizeof(lb), fb)) {
		char op[64] = "", ea[32], eb[32], key[128];
		int i;

		lines++;
		la[strcspn(la, "\n")] = lb[strcspn(lb, "\n")] = '\0';
		snprintf(ring[lines % NCTX], sizeof(ring[0]), "%.639s", la);
		if (!strcmp(la, lb))
			continue;
		diffs++;
		sscanf(la, "%*s %63s", op);
		rec_errno(la, ea, sizeof(ea));
		rec_errno(lb, eb, sizeof(eb));
		if (strcmp(ea, eb))
			snprintf(key, sizeof(key), "%s: %s | %s", op, ea, eb);
		else if (strncmp(la, lb, strstr(la, " = ") ? (size_t)(strstr(la, " = ") - la) : 0))
			snprintf(key, sizeof(key), "%s: different calls (diverged)", op);
		else
			snprintf(key, sizeof(key), "%s: %s, other value/output", op, ea);
		for (i = 0; i < ncats && strcmp(cats[i].key, key); i++)
			;
		if (i == ncats) {
			if (ncats == NCAT)
				continue;
			snprintf(cats[i].key, sizeof(cats[i].key), "%s", key);
			cats[i].first = lines;
			ncats++;
			if (diff_context)
				print_context(ring, NCTX, lines, la, diff_context);
		}
		if (cats[i].n < NEX) {
			snprintf(cats[i].ex[cats[i].n][0], 640, "%.639s", la);
			snprintf(cats[i].ex[cats[i].n][1], 640, "%.639s", lb);
		}
		cats[i].n++;
	}
	printf("vfio_fuzz: diff %s %s: %llu calls, %llu differ, %d kinds (by first occurrence)\n",
	       a, b, (unsigned long long)lines, (unsigned long long)diffs, ncats);
	for (int i = 0; i < ncats; i++) {
		printf("vfio_fuzz: %6llu x %s (first at call %llu)\n", (unsigned long long)cats[i].n,
		       cats[i].key, (unsigned long long)cats[i].first - 1);
		for (u64 j = 0; j < cats[i].n && j < NEX; j++)
			printf("vfio_fuzz:          A: %s\nvfio_fuzz:          B: %s\n", cats[i].ex[j][0],
			       cats[i].ex[j][1]);
	}
	return diffs ? 2 : 0;
}
