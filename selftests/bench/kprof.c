// SPDX-License-Identifier: GPL-2.0
/*
 * kprof: where a command spends its time in the kernel, for a guest kernel without ftrace.
 *
 *   kprof [-p PERIOD_US] [-n TOP] [-c FUNCTION] -- COMMAND [ARGS...]
 *
 * -c FUNCTION also prints who called FUNCTION in its samples (the four callers below it in
 * the kernel stack), to tell apart the callers of a hot shared function.
 * Samples the kernel instruction pointer of COMMAND (one process; its threads and children
 * are not followed) with the cpu-clock software event, then prints the functions with the
 * most samples, symbolised through /proc/kallsyms (modules included). A tool for working
 * on the benchmarks (selftests/bench/vfio_bench), not a test.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA_PAGES 256

struct symbol {
	uint64_t addr;
	char name[320];
	uint64_t hits;
};

static struct symbol *symbols;
static size_t nsymbols;

/* -c: caller chains of one function, as "caller <- caller's caller <- ..." strings. */
static const char *chain_of;
struct chain {
	char text[400];
	uint64_t hits;
};
static struct chain chains[256];
static size_t nchains;

static int by_addr(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int by_hits(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;

	return x->hits > y->hits ? -1 : x->hits < y->hits;
}

static void load_kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	size_t cap = 0;
	char line[256];

	if (!f) {
		perror("kprof: /proc/kallsyms");
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[200], module[100] = "";

		if (sscanf(line, "%llx %c %199s %99s", &addr, &type, name, module) < 3 || !addr)
			continue;
		if (type != 't' && type != 'T')
			continue;
		if (nsymbols == cap) {
			cap = cap ? cap * 2 : 65536;
			symbols = realloc(symbols, cap * sizeof(*symbols));
			if (!symbols)
				exit(1);
		}
		symbols[nsymbols].addr = addr;
		symbols[nsymbols].hits = 0;
		snprintf(symbols[nsymbols].name, sizeof(symbols[nsymbols].name), "%s%s%s", name,
			 *module ? " " : "", module);
		nsymbols++;
	}
	fclose(f);
	qsort(symbols, nsymbols, sizeof(*symbols), by_addr);
}

static struct symbol *lookup(uint64_t ip)
{
	size_t lo = 0, hi = nsymbols;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (symbols[mid].addr <= ip)
			lo = mid;
		else
			hi = mid;
	}
	return nsymbols && symbols[lo].addr <= ip ? &symbols[lo] : NULL;
}

static uint64_t read_u64(const char *data, uint64_t size, uint64_t at)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(v); i++)
		((char *)&v)[i] = data[(at + i) % size];
	return v;
}

/* Records the callers of a sample in @self from its callchain at @at (nr, ips[nr]). */
static void record_chain(const char *data, uint64_t size, uint64_t at, struct symbol *self)
{
	uint64_t nr = read_u64(data, size, at), i;
	char text[400] = "";
	int depth = 0;
	size_t c;

	for (i = 0; i < nr && depth < 4; i++) {
		uint64_t ip = read_u64(data, size, at + 8 + 8 * i);
		struct symbol *s;

		if (ip >= (uint64_t)PERF_CONTEXT_MAX)
			continue;
		s = lookup(ip);
		if (!s || s == self)
			continue;
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%.60s",
			 depth ? " <- " : "", s->name);
		depth++;
	}
	for (c = 0; c < nchains; c++)
		if (!strcmp(chains[c].text, text))
			break;
	if (c == nchains) {
		if (nchains == sizeof(chains) / sizeof(*chains))
			return;
		snprintf(chains[nchains++].text, sizeof(chains[0].text), "%s", text);
	}
	chains[c].hits++;
}

static int by_chain_hits(const void *a, const void *b)
{
	const struct chain *x = a, *y = b;

	return x->hits > y->hits ? -1 : x->hits < y->hits;
}

/* Consumes the samples in the ring buffer. */
static uint64_t drain(struct perf_event_mmap_page *meta, uint64_t *unknown)
{
	char *data = (char *)meta + meta->data_offset;
	uint64_t size = meta->data_size, head = meta->data_head, tail = meta->data_tail, n = 0;

	__sync_synchronize();
	while (tail < head) {
		struct perf_event_header hdr;
		uint64_t ip;
		size_t i;

		for (i = 0; i < sizeof(hdr); i++)
			((char *)&hdr)[i] = data[(tail + i) % size];
		if (hdr.type == PERF_RECORD_SAMPLE) {
			uint64_t at = tail + sizeof(hdr);

			ip = read_u64(data, size, at);
			struct symbol *s = lookup(ip);

			if (s)
				s->hits++;
			else
				(*unknown)++;
			n++;
			if (s && chain_of && !strcmp(s->name, chain_of))
				record_chain(data, size, at + 8, s);
		}
		tail += hdr.size;
	}
	__sync_synchronize();
	meta->data_tail = tail;
	return n;
}

int main(int argc, char **argv)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_type = PERF_SAMPLE_IP,
		.exclude_user = 1,
		.exclude_hv = 1,
		.disabled = 1,
		.enable_on_exec = 1,
		.wakeup_events = 64,
	};
	uint64_t period_us = 100, total = 0, unknown = 0;
	int opt, top = 40, go[2], status, fd;
	struct perf_event_mmap_page *meta;
	pid_t child;
	size_t i;

	while ((opt = getopt(argc, argv, "p:n:c:")) != -1) {
		if (opt == 'c')
			chain_of = optarg;
		else if (opt == 'p')
			period_us = strtoull(optarg, NULL, 0);
		else if (opt == 'n')
			top = atoi(optarg);
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: kprof [-p PERIOD_US] [-n TOP] [-c FUNCTION] -- COMMAND [ARGS...]\n");
		return 2;
	}
	attr.sample_period = period_us * 1000;
	if (chain_of) {
		attr.sample_type |= PERF_SAMPLE_CALLCHAIN;
		attr.exclude_callchain_user = 1;
	}
	load_kallsyms();
	if (pipe(go))
		return 1;
	child = fork();
	if (child == 0) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[optind], &argv[optind]);
		_exit(127);
	}
	fd = syscall(SYS_perf_event_open, &attr, child, -1, -1, 0);
	if (fd < 0) {
		perror("kprof: perf_event_open");
		kill(child, SIGKILL);
		return 1;
	}
	meta = mmap(NULL, (DATA_PAGES + 1) * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (meta == MAP_FAILED) {
		perror("kprof: mmap");
		kill(child, SIGKILL);
		return 1;
	}
	close(go[0]);
	if (write(go[1], "g", 1) != 1)
		return 1;
	close(go[1]);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		poll(&pfd, 1, 100);
		total += drain(meta, &unknown);
		if (waitpid(child, &status, WNOHANG) == child)
			break;
	}
	total += drain(meta, &unknown);

	qsort(symbols, nsymbols, sizeof(*symbols), by_hits);
	fprintf(stderr, "kprof: %llu kernel samples every %llu us (%llu unsymbolised)\n",
		(unsigned long long)total, (unsigned long long)period_us,
		(unsigned long long)unknown);
	for (i = 0; i < nsymbols && (int)i < top && symbols[i].hits; i++)
		fprintf(stderr, "kprof: %6.2f%% %7llu  %s\n", 100.0 * symbols[i].hits / total,
			(unsigned long long)symbols[i].hits, symbols[i].name);
	if (chain_of) {
		qsort(chains, nchains, sizeof(*chains), by_chain_hits);
		for (i = 0; i < nchains && i < 20; i++)
			fprintf(stderr, "kprof: callers of %s: %6llu  %s\n", chain_of,
				(unsigned long long)chains[i].hits, chains[i].text);
	}
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
