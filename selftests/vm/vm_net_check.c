// SPDX-License-Identifier: GPL-2.0
/*
 * vm_net_check: traffic through a NIC passed through to the inner VM, without IP (no
 * address of any network is used): raw Ethernet frames of a local experimental EtherType
 * (0x88b5) sent to the broadcast address and received back. The test guest's QEMU loops
 * the NIC's wire back to itself (a UDP socket on 127.0.0.1 sending to itself), so every
 * frame the NIC transmits (the VM's driver DMAs it out of guest memory through the outer
 * IOMMU) comes back as a received frame (DMA'd into guest memory, an interrupt raised).
 *
 *   vm_net_check [-n FRAMES] [-s BYTES] [-i IFNAME]
 *
 * Brings IFNAME (default: the first ethN) up, waits for carrier, sends FRAMES frames
 * (default 2000) of BYTES payload (default 1000) with a sequence number and a pattern
 * derived from it, WINDOW at a time, and checks that each comes back at most once and
 * intact, and that at most 1% is lost (the wire is a UDP socket on the host). Prints
 * "VMRESULT net ..." lines: the verdict, the counts, and the interface's interrupts
 * (/proc/interrupts lines naming it). Exit status 0 only if the frames passed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETHERTYPE 0x88b5	/* IEEE 802 local experimental */
#define MAGIC 0x72766669u	/* "rvfi" */
#define WINDOW 16		/* frames in flight */

struct frame {
	struct ether_header eth;
	uint32_t magic;
	uint32_t seq;
	uint8_t data[];
} __attribute__((packed));

static uint8_t pattern(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 131 + i * 7 + 1);
}

/*
 * Receives what is there within @timeout_ms, counting frames that came back intact (each
 * sequence number once), corrupted, or twice.
 */
static void receive_some(int s, unsigned int frames, size_t size, uint8_t *seen,
			 unsigned int *received, unsigned int *bad, unsigned int *dup,
			 int timeout_ms)
{
	uint8_t rxbuf[2048];
	struct pollfd pfd = { .fd = s, .events = POLLIN };

	while (poll(&pfd, 1, timeout_ms) == 1) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(s, rxbuf, sizeof(rxbuf), 0, (struct sockaddr *)&from, &fromlen);
		struct frame *f = (struct frame *)rxbuf;
		uint32_t seq;
		size_t k;
		int ok;

		if (n < 0)
			return;
		/* Our own transmissions, as the socket sees them on the way out. */
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (n < (ssize_t)sizeof(*f) || ntohl(f->magic) != MAGIC)
			continue;
		seq = ntohl(f->seq);
		ok = seq < frames && (size_t)n >= sizeof(*f) + size;
		for (k = 0; ok && k < size; k++)
			ok = f->data[k] == pattern(seq, k);
		if (!ok)
			(*bad)++;
		else if (seen[seq]++)
			(*dup)++;
		else
			(*received)++;
		timeout_ms = 0;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int first_eth(char *name, size_t len)
{
	struct dirent *e;
	DIR *d = opendir("/sys/class/net");

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "eth", 3)) {
			snprintf(name, len, "%.15s", e->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -1;
}

static int carrier(const char *ifname)
{
	char path[128], c = '0';
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fread(&c, 1, 1, f) != 1)
		c = '0';
	fclose(f);
	return c == '1';
}

/* The interrupts of @ifname's lines, summed over CPUs, one report line per IRQ line. */
static void report_irqs(const char *ifname)
{
	char line[1024];
	unsigned long long total = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');
		unsigned long long sum = 0;

		if (!p || !strstr(line, ifname))
			continue;
		for (p++;;) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
		line[strcspn(line, "\n")] = '\0';
		printf("VMRESULT net-irq %llu %s\n", sum, strrchr(line, ' ') + 1);
		total += sum;
	}
	fclose(f);
	printf("VMRESULT net-irq-total %llu\n", total);
}

int main(int argc, char **argv)
{
	unsigned int frames = 2000, sent = 0, received = 0, bad = 0, dup = 0, lost;
	size_t size = 1000;
	char ifname[IFNAMSIZ] = "";
	struct sockaddr_ll addr = { .sll_family = AF_PACKET };
	struct ifreq ifr = { 0 };
	uint8_t *seen, txbuf[2048];
	unsigned char mac[ETH_ALEN];
	double deadline;
	int opt, s, ok;

	while ((opt = getopt(argc, argv, "n:s:i:")) != -1) {
		switch (opt) {
		case 'n': frames = strtoul(optarg, NULL, 0); break;
		case 's': size = strtoul(optarg, NULL, 0); break;
		case 'i': snprintf(ifname, sizeof(ifname), "%s", optarg); break;
		default: return 2;
		}
	}
	if (size + sizeof(struct frame) > 1514 || !frames)
		return 2;
	if (!ifname[0] && first_eth(ifname, sizeof(ifname))) {
		printf("VMRESULT net FAIL no ethN interface\n");
		return 1;
	}
	s = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE));
	if (s < 0)
		return perror("socket"), 1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		return perror("SIOCGIFFLAGS"), 1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		return perror("SIOCSIFFLAGS"), 1;
	if (ioctl(s, SIOCGIFHWADDR, &ifr))
		return perror("SIOCGIFHWADDR"), 1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	if (ioctl(s, SIOCGIFINDEX, &ifr))
		return perror("SIOCGIFINDEX"), 1;
	addr.sll_ifindex = ifr.ifr_ifindex;
	addr.sll_protocol = htons(ETHERTYPE);
	if (bind(s, (struct sockaddr *)&addr, sizeof(addr)))
		return perror("bind"), 1;
	for (deadline = now_s() + 15; !carrier(ifname); usleep(50000)) {
		if (now_s() > deadline) {
			printf("VMRESULT net FAIL %s has no carrier after 15 s\n", ifname);
			return 1;
		}
	}
	seen = calloc(frames, 1);
	if (!seen)
		return 1;

	/*
	 * A window of frames in flight: send WINDOW, then receive until they are back (or
	 * 500 ms passed), so that neither the VM's receive ring nor the UDP socket behind the
	 * looped-back wire overflows; stragglers are waited for 2 s after the last send.
	 */
	deadline = now_s() + 120;
	while (sent < frames && now_s() < deadline) {
		unsigned int burst, target;
		double window_end;

		for (burst = 0; burst < WINDOW && sent < frames; burst++, sent++) {
			struct frame *f = (struct frame *)txbuf;
			size_t k;

			memset(f->eth.ether_dhost, 0xff, ETH_ALEN);
			memcpy(f->eth.ether_shost, mac, ETH_ALEN);
			f->eth.ether_type = htons(ETHERTYPE);
			f->magic = htonl(MAGIC);
			f->seq = htonl(sent);
			for (k = 0; k < size; k++)
				f->data[k] = pattern(sent, k);
			while (send(s, txbuf, sizeof(*f) + size, 0) < 0) {
				if (errno != ENOBUFS && errno != EAGAIN)
					return perror("send"), 1;
				usleep(1000);
			}
		}
		target = sent;
		window_end = now_s() + (sent < frames ? 0.5 : 2.0);
		while (received + bad + dup < target && now_s() < window_end)
			receive_some(s, frames, size, seen, &received, &bad, &dup, 50);
	}
	lost = sent - received;
	/* Loss on the wire (a UDP socket on the host) is the host's; corruption is not. */
	ok = sent == frames && !bad && !dup && lost * 100 <= frames;
	printf("VMRESULT net %s %s sent=%u received=%u lost=%u bad=%u dup=%u size=%zu\n",
	       ok ? "ok" : "FAIL", ifname, sent, received, lost, bad, dup, size);
	report_irqs(ifname);
	return ok ? 0 : 1;
}
