// SPDX-License-Identifier: GPL-2.0
/*
 * vm_blk_check: the inner VM's data check on its nvme namespace (the outer guest's nvme,
 * passed through by VFIO), with O_DIRECT so that every byte goes by the device's DMA.
 *
 *   vm_blk_check [-d DEV] [-s SEED] check     write SEED's data at each size, read it back, compare
 *   vm_blk_check [-d DEV] [-s SEED] verify    read back and compare only (data of an earlier check)
 *   vm_blk_check [-d DEV] [-s SEED] loop      write/read/compare 1 MiB blocks until killed
 *   vm_blk_check [-d DEV] mark set GEN SEED | mark get    a 4 KiB marker block (reset tests)
 *   vm_blk_check irqs                         the nvme lines of /proc/interrupts
 *
 * Layout of the namespace (64 MiB in the test guest): the check writes 4 KiB at 0, 64 KiB at
 * 1 MiB, 1 MiB at 2 MiB and 8 MiB at 4 MiB; the loop runs over 16-32 MiB; the marker block is
 * at 60 MiB. The data is a function of the seed and of the byte offset, so any part can be
 * checked on its own, by another boot or by the outer guest's own nvme driver afterwards.
 *
 * Results are lines "VMRESULT KEY ..." on stdout (the VM's console); the outer test reads
 * them. Exit status 0 when every size compared equal.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024 * 1024)
#define ALIGN 4096
#define LOOP_BASE (16L * MiB)
#define LOOP_SPAN (16L * MiB)
#define LOOP_BLOCK (1L * MiB)
#define MARK_OFF (60L * MiB)
#define MARK_MAGIC "RVFIO-VM-MARK"

static const struct {
	long size, off;
} checks[] = {
	{ 4096, 0 },
	{ 64 * 1024, 1 * MiB },
	{ 1 * MiB, 2 * MiB },
	{ 8 * MiB, 4 * MiB },
};

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The data of [off, off + len) for @seed: one 64-bit word per 8 bytes of the device. */
static void fill(uint64_t *buf, long off, long len, uint64_t seed)
{
	for (long i = 0; i < len / 8; i++)
		buf[i] = splitmix64(seed * 0x100000001b3ull ^ (uint64_t)(off / 8 + i));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xalloc(long len)
{
	void *p;

	if (posix_memalign(&p, ALIGN, len)) {
		fprintf(stderr, "posix_memalign %ld failed\n", len);
		exit(2);
	}
	return p;
}

static int xfer(int fd, int write, void *buf, long len, long off)
{
	long done = 0;

	while (done < len) {
		ssize_t n = write ? pwrite(fd, (char *)buf + done, len - done, off + done)
				  : pread(fd, (char *)buf + done, len - done, off + done);
		if (n <= 0) {
			fprintf(stderr, "%s %ld bytes at %ld: %s\n", write ? "pwrite" : "pread",
				len - done, off + done, n < 0 ? strerror(errno) : "short");
			return -1;
		}
		done += n;
	}
	return 0;
}

/*
 * Write (unless @verify_only) and read back [off, off + len); compare with @seed's data.
 * Returns 0 if equal; prints where it first differs otherwise.
 */
static int one(int fd, long len, long off, uint64_t seed, int verify_only, const char *what,
	       int quiet)
{
	uint64_t *want = xalloc(len), *got = xalloc(len);
	double t0 = now(), t1, t2;
	int rc = -1;

	fill(want, off, len, seed);
	memset(got, 0xa5, len);
	if (!verify_only && xfer(fd, 1, want, len, off))
		goto out;
	t1 = now();
	if (xfer(fd, 0, got, len, off))
		goto out;
	t2 = now();
	if (memcmp(want, got, len)) {
		long i = 0;

		while (want[i] == got[i])
			i++;
		printf("VMRESULT %s %ld FAIL at byte %ld: want %016" PRIx64 " got %016" PRIx64 "\n",
		       what, len, off + i * 8, want[i], got[i]);
		goto out;
	}
	rc = 0;
	if (quiet)
		;
	else if (verify_only)
		printf("VMRESULT %s %ld ok read %.1f ms\n", what, len, (t2 - t1) * 1e3);
	else
		printf("VMRESULT %s %ld ok write %.1f ms read %.1f ms\n", what, len, (t1 - t0) * 1e3,
		       (t2 - t1) * 1e3);
out:
	if (rc)
		printf("VMRESULT %s %ld FAIL\n", what, len);
	fflush(stdout);
	free(want);
	free(got);
	return rc;
}

static int open_dev(const char *dev)
{
	int fd = open(dev, O_RDWR | O_DIRECT);

	if (fd < 0) {
		printf("VMRESULT open FAIL %s: %s\n", dev, strerror(errno));
		exit(1);
	}
	return fd;
}

static int check(const char *dev, uint64_t seed, int verify_only)
{
	int fd = open_dev(dev), fails = 0;

	for (unsigned int i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		fails += !!one(fd, checks[i].size, checks[i].off, seed, verify_only,
			       verify_only ? "verify" : "blk", 0);
	close(fd);
	printf("VMRESULT %s %s seed %" PRIu64 "\n", verify_only ? "verify-all" : "blk-all",
	       fails ? "FAIL" : "ok", seed);
	return !!fails;
}

/* Until killed: write, read and compare 1 MiB blocks over the loop region. */
static int loop(const char *dev, uint64_t seed)
{
	int fd = open_dev(dev);

	for (unsigned long round = 1;; round++) {
		long off = LOOP_BASE + (long)((round - 1) % (LOOP_SPAN / LOOP_BLOCK)) * LOOP_BLOCK;

		if (one(fd, LOOP_BLOCK, off, seed + round, 0, "loop-block", 1)) {
			printf("VMRESULT loop FAIL in round %lu\n", round);
			return 1;
		}
		/* Every round's line would be a nested exit per character: every 8th. */
		if (round == 1 || round % 8 == 0)
			printf("VMRESULT loop %lu\n", round);
		}
}

static int mark(const char *dev, int argc, char **argv)
{
	char *blk = xalloc(ALIGN);
	int fd = open_dev(dev);
	unsigned long gen;
	uint64_t seed;

	if (argc == 3 && !strcmp(argv[0], "set")) {
		memset(blk, 0, ALIGN);
		snprintf(blk, ALIGN, "%s %lu %s\n", MARK_MAGIC, strtoul(argv[1], NULL, 0), argv[2]);
		if (xfer(fd, 1, blk, ALIGN, MARK_OFF))
			return 1;
		return 0;
	}
	if (argc == 1 && !strcmp(argv[0], "get")) {
		if (xfer(fd, 0, blk, ALIGN, MARK_OFF))
			return 1;
		blk[ALIGN - 1] = 0;
		if (sscanf(blk, MARK_MAGIC " %lu %" SCNu64, &gen, &seed) == 2)
			printf("%lu %" PRIu64 "\n", gen, seed);
		else
			printf("0 0\n");
		return 0;
	}
	fprintf(stderr, "usage: mark set GEN SEED | mark get\n");
	return 2;
}

/*
 * The nvme lines of /proc/interrupts: "VMRESULT irq NAME CHIP HWIRQ COUNT", COUNT summed over
 * the CPUs; then "VMRESULT irq-total CHIP COUNT" per chip (PCI-MSIX-..., IO-APIC, ...).
 */
static int irqs(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024], chips[8][64];
	unsigned long totals[8] = { 0 };
	int ncpu = 0, nchips = 0;

	if (!f || !fgets(line, sizeof(line), f)) {
		printf("VMRESULT irq FAIL no /proc/interrupts\n");
		return 1;
	}
	for (char *t = strtok(line, " \t\n"); t; t = strtok(NULL, " \t\n"))
		ncpu++;
	while (fgets(line, sizeof(line), f)) {
		char *tok[64], *save;
		unsigned long count = 0;
		int n = 0, c;

		if (!strstr(line, "nvme"))
			continue;
		for (char *t = strtok_r(line, " \t\n", &save); t && n < 64; t = strtok_r(NULL, " \t\n", &save))
			tok[n++] = t;
		/* "IRQ:" CPU-counts... CHIP HWIRQ-TYPE NAME... */
		if (n < ncpu + 4)
			continue;
		for (int i = 1; i <= ncpu; i++)
			count += strtoul(tok[i], NULL, 10);
		printf("VMRESULT irq %s %s %s %lu\n", tok[n - 1], tok[ncpu + 1], tok[ncpu + 2], count);
		/* Chip names carry the device's address (PCI-MSIX-0000:01:00.0): keep the kind. */
		char kind[64];

		snprintf(kind, sizeof(kind), "%s", tok[ncpu + 1]);
		if (strstr(kind, "MSIX"))
			snprintf(kind, sizeof(kind), "MSIX");
		else if (strstr(kind, "MSI"))
			snprintf(kind, sizeof(kind), "MSI");
		for (c = 0; c < nchips && strcmp(chips[c], kind); c++)
			;
		if (c == nchips && nchips < 8)
			snprintf(chips[nchips++], sizeof(chips[0]), "%s", kind);
		if (c < 8)
			totals[c] += count;
	}
	fclose(f);
	for (int c = 0; c < nchips; c++)
		printf("VMRESULT irq-total %s %lu\n", chips[c], totals[c]);
	if (!nchips)
		printf("VMRESULT irq-total none 0\n");
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/nvme0n1";
	uint64_t seed = 1;
	int opt;

	while ((opt = getopt(argc, argv, "d:s:")) != -1) {
		switch (opt) {
		case 'd':
			dev = optarg;
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[0], "check"))
		return check(dev, seed, 0);
	if (!strcmp(argv[0], "verify"))
		return check(dev, seed, 1);
	if (!strcmp(argv[0], "loop"))
		return loop(dev, seed);
	if (!strcmp(argv[0], "mark"))
		return mark(dev, argc - 1, argv + 1);
	if (!strcmp(argv[0], "irqs"))
		return irqs();
usage:
	fprintf(stderr, "usage: vm_blk_check [-d DEV] [-s SEED] check|verify|loop|irqs|mark ...\n");
	return 2;
}
