// SPDX-License-Identifier: GPL-2.0
/*
 * vm_bench: what a VM with a passed-through device costs its user at start and at stop,
 * which is mostly MAP_DMA (all of guest memory pinned and mapped before the guest runs)
 * and UNMAP_DMA (all of it unmapped and unpinned when QEMU goes).
 *
 *   vm_bench NAME -- QEMU_COMMAND...
 *
 * Starts QEMU_COMMAND, whose serial console must be its stdout (-serial stdio), and prints
 *
 *   BENCH vm_start_NAME <ms> ms lower      QEMU started -> the first console line complete
 *   BENCH vm_stop_NAME <ms> ms lower       SIGTERM sent -> QEMU reaped (its fds closed,
 *                                          its memory gone)
 *
 * The first console line is the inner kernel's first (its log replayed when the serial
 * console registers): by then QEMU has opened the device, mapped all of guest memory for
 * DMA and run the firmware. SIGTERM is QEMU's clean shutdown; the VM is torn down by the
 * process's exit, and waitpid() returns once its files are closed (the VFIO device, the
 * container and its mappings) and its memory freed. Fails when QEMU exits on its own
 * first, or prints nothing within the time limit (60 s).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIMIT_MS 60000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads @fd until a line with something on it is complete; 0, or -1 on EOF/timeout. */
static int first_line(int fd, double deadline)
{
	char buf[4096];
	int seen = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - now_ms());
		ssize_t n, i;

		if (left <= 0 || poll(&pfd, 1, left) != 1)
			return -1;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' && seen)
				return 0;
			if (buf[i] != '\r' && buf[i] != '\n')
				seen = 1;
		}
	}
}

int main(int argc, char **argv)
{
	double start, up, stop;
	int out[2], status;
	const char *name;
	pid_t qemu;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: vm_bench NAME -- QEMU_COMMAND...\n");
		return 2;
	}
	name = argv[1];
	if (pipe(out))
		return perror("pipe"), 1;
	start = now_ms();
	qemu = fork();
	if (qemu < 0)
		return perror("fork"), 1;
	if (qemu == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		execvp(argv[3], argv + 3);
		perror("exec");
		_exit(127);
	}
	close(out[1]);
	if (first_line(out[0], start + LIMIT_MS)) {
		fprintf(stderr, "vm_bench %s: no console line from QEMU\n", name);
		kill(qemu, SIGKILL);
		waitpid(qemu, &status, 0);
		return 1;
	}
	up = now_ms();
	if (waitpid(qemu, &status, WNOHANG) == qemu) {
		fprintf(stderr, "vm_bench %s: QEMU exited early (status %#x)\n", name, status);
		return 1;
	}
	stop = now_ms();
	kill(qemu, SIGTERM);
	/* Drain the console so that QEMU never blocks on a full pipe while it exits. */
	while (waitpid(qemu, &status, WNOHANG) == 0) {
		char buf[4096];
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };

		if (now_ms() - stop > LIMIT_MS) {
			fprintf(stderr, "vm_bench %s: QEMU did not stop on SIGTERM\n", name);
			kill(qemu, SIGKILL);
			waitpid(qemu, &status, 0);
			return 1;
		}
		if (poll(&pfd, 1, 1) == 1 && read(out[0], buf, sizeof(buf)) <= 0)
			usleep(1000);
	}
	stop = now_ms() - stop;
	printf("BENCH vm_start_%s %.1f ms lower\n", name, up - start);
	printf("BENCH vm_stop_%s %.1f ms lower\n", name, stop);
	return 0;
}
