/*
 * pcap_loop: the floor for any libpcap-based reader. Opens a capture with
 * pcap_open_offline and reads every packet with pcap_next_ex, touching
 * nothing but the record header; prints "packets=N bytes=N" (captured
 * bytes). Exit 0, or 2 with libpcap's message when the file cannot be read.
 *
 *   pcap_loop FILE
 */
#define _DEFAULT_SOURCE /* libpcap needs the BSD u_char types */
#include <stdint.h>
#include <stdio.h>

#include <pcap/pcap.h>

int
main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t packets = 0, bytes = 0, sink = 0;
	pcap_t *p;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pcap_loop FILE\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], errbuf);
	if (p == NULL) {
		fprintf(stderr, "pcap_loop: %s\n", errbuf);
		return 2;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		packets++;
		bytes += h->caplen;
		/* Read one byte so the loop cannot be optimised into not reading. */
		sink += h->caplen > 0 ? data[0] : 0;
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcap_loop: %s\n", pcap_geterr(p));
		pcap_close(p);
		return 2;
	}
	pcap_close(p);
	printf("packets=%llu bytes=%llu\n", (unsigned long long)packets, (unsigned long long)bytes);
	return sink == UINT64_MAX ? 1 : 0;
}
