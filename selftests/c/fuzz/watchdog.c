// SPDX-License-Identifier: GPL-2.0
/* vfio_fuzz: the watchdog and signal handling. Part of vfio_fuzz.c's translation unit. */

/* ------------------------------------------------------------------ watchdog, signals */

static u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void print_proc(pid_t tid, const char *what)
{
	char path[96], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		printf("vfio_fuzz:   %s: %s%s", what, buf, buf[n - 1] == '\n' ? "" : "\n");
	}
}

static void *watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&fx.stop)) {
		u64 now = mono_ms();

		for (int i = 0; i < opt.threads; i++) {
			u64 start = atomic_load(&thr[i].wd_start);

			/* (A call may have started after @now was taken.) */
			if (!start || start > now || now - start < (u64)opt.timeout_s * 1000)
				continue;
			printf("vfio_fuzz: WATCHDOG: thread %d stuck for %llu ms in call %llu: %s %s (seed %llu)\n",
			       i, (unsigned long long)(now - start),
			       (unsigned long long)thr[i].done,
			       op_name(atomic_load(&thr[i].wd_op)), thr[i].desc,
			       (unsigned long long)opt.seed);
			for (int j = 0; j < opt.threads; j++) {
				if (!atomic_load(&thr[j].wd_start))
					continue;
				printf("vfio_fuzz:  thread %d (tid %d) in %s %s\n", j, thr[j].tid,
				       op_name(atomic_load(&thr[j].wd_op)), thr[j].desc);
				print_proc(thr[j].tid, "wchan");
				print_proc(thr[j].tid, "syscall");
				print_proc(thr[j].tid, "stack");
			}
			printf("vfio_fuzz: FAIL: a call did not return within %d s\n", opt.timeout_s);
			fflush(stdout);
			_exit(1);
		}
		usleep(100000);
	}
	return NULL;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (cur && cur->in_touch && sig == SIGBUS) {
		cur->in_touch = 0;
		siglongjmp(cur->jb, sig);
	}
	/* Not async-signal-safe, but we are about to die anyway. */
	fprintf(stdout, "vfio_fuzz: FAIL: signal %d (addr %p) in thread %d during %s %s (seed %llu)\n",
		sig, si->si_addr, cur ? cur->id : -1,
		cur ? op_name(atomic_load(&cur->wd_op)) : "?", cur ? cur->desc : "",
		(unsigned long long)opt.seed);
	fflush(stdout);
	_exit(1);
}

/*
 * Reads (and for edu's harmless registers writes) a device mapping; SIGBUS is legal (memory
 * decode off, D3hot, reset in progress). Returns 0 or the signal.
 */
static int touch(struct thr *t, volatile u8 *p, u64 len, long long write_off)
{
	int sig;
	u32 v = 0;

	t->in_touch = 1;
	sig = sigsetjmp(t->jb, 1);
	if (sig) {
		t->touch_sigbus++;
		return sig;
	}
	v += *(volatile u32 *)p;
	if (len >= 8)
		v += *(volatile u32 *)(p + ((len - 4) & ~3ULL));
	if (len >= 8)
		v += *(volatile u32 *)(p + (rn(t, len - 4) & ~3ULL));
	if (write_off >= 0 && (u64)write_off + 4 <= len)
		*(volatile u32 *)(p + write_off) = (u32)rnd(t) ^ v;
	t->in_touch = 0;
	t->touch_ok++;
	return 0;
}
