// SPDX-License-Identifier: GPL-2.0
/*
 * vm_monitor SOCKET COMMAND [TIMEOUT_S]: run one human-monitor (HMP) COMMAND on the QEMU
 * whose monitor listens on the unix socket SOCKET (-monitor unix:SOCKET,server=on,wait=off)
 * and print what it answered (echo and terminal escapes removed). For the outer guest's VM
 * tests (qemu-test/guest/vm.sh): device_del, system_reset, info pci, quit.
 *
 * Exit status 0 once the monitor prompted again (or closed the connection, as after
 * "quit"); 1 if it could not connect or did not answer within TIMEOUT_S (default 10).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROMPT "(qemu) "

static char buf[1 << 20];
static size_t len;

/* Read until the buffer ends with the prompt, EOF (returns 1) or the deadline (-1). */
static int read_prompt(int fd, time_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int left = (int)(deadline - time(NULL));

		if (len >= strlen(PROMPT) && !memcmp(buf + len - strlen(PROMPT), PROMPT, strlen(PROMPT)))
			return 0;
		if (left <= 0 || poll(&p, 1, left * 1000) <= 0)
			return -1;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return 1;
		len += n;
	}
}

/* Drop CRs and ANSI escape sequences (the monitor's readline redraws the line). */
static void clean(char *s)
{
	char *o = s;

	for (char *i = s; *i; i++) {
		if (*i == '\r')
			continue;
		if (*i == 0x1b) {
			if (i[1] == '[') {
				i += 2;
				while (*i && !(*i >= '@' && *i <= '~'))
					i++;
				if (!*i)
					break;
			}
			continue;
		}
		*o++ = *i;
	}
	*o = 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	time_t deadline;
	int fd, rc;
	char *out, *nl;

	if (argc < 3) {
		fprintf(stderr, "usage: vm_monitor SOCKET COMMAND [TIMEOUT_S]\n");
		return 2;
	}
	deadline = time(NULL) + (argc > 3 ? atoi(argv[3]) : 10);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "vm_monitor: connect %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (read_prompt(fd, deadline)) {
		fprintf(stderr, "vm_monitor: no prompt from %s\n", argv[1]);
		return 1;
	}
	len = 0;
	if (dprintf(fd, "%s\n", argv[2]) < 0) {
		fprintf(stderr, "vm_monitor: write: %s\n", strerror(errno));
		return 1;
	}
	rc = read_prompt(fd, deadline);
	if (rc < 0) {
		fprintf(stderr, "vm_monitor: no answer to '%s' within the timeout\n", argv[2]);
		return 1;
	}
	buf[len] = 0;
	if (rc == 0)
		buf[len - strlen(PROMPT)] = 0;
	clean(buf);
	/* The first line is the echo of the command. */
	out = buf;
	nl = strchr(out, '\n');
	out = nl ? nl + 1 : out + strlen(out);
	fputs(out, stdout);
	close(fd);
	return 0;
}
