/*
 * udp_echo.c - the true UDP round trip on loopback, for comparison with
 * the agents' RTT estimates (bench/loopback_rtt.sh).
 *
 *   udp_echo [COUNT] [INTERVAL_MS]
 *
 * Two processes, like two agents: a forked child echoes every datagram on
 * 127.0.0.1; the parent sends COUNT (default 1000) 64-byte datagrams, one
 * every INTERVAL_MS (default 10; an idle gap, as between probes, so each
 * round trip pays the wake-up of a sleeping process), and times each round
 * trip with CLOCK_MONOTONIC right before sendto() and right after
 * recvfrom() returns. Prints "min p10 median p90 max" in milliseconds.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 1000;
	int interval_ms = argc > 2 ? atoi(argv[2]) : 10;
	if (count < 1)
		count = 1;
	struct sockaddr_in srv = {.sin_family = AF_INET};
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t sl = sizeof(srv);
	if (s < 0 || bind(s, (struct sockaddr *)&srv, sizeof(srv)) != 0 ||
	    getsockname(s, (struct sockaddr *)&srv, &sl) != 0) {
		perror("udp_echo: server socket");
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("udp_echo: fork");
		return 1;
	}
	if (child == 0) {
		char buf[2048];
		struct sockaddr_in from;
		for (;;) {
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(s, buf, sizeof(buf), 0,
					     (struct sockaddr *)&from, &fl);
			if (n > 0)
				sendto(s, buf, (size_t)n, 0,
				       (struct sockaddr *)&from, fl);
		}
	}
	close(s);
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = {.tv_sec = 1};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	double *rtt = calloc((size_t)count, sizeof(double));
	int got = 0;
	char msg[64] = "ping", buf[2048];
	for (int i = 0; i < count && rtt != NULL; i++) {
		double t0 = now_s();
		if (sendto(c, msg, sizeof(msg), 0, (struct sockaddr *)&srv,
			   sizeof(srv)) < 0)
			continue;
		if (recv(c, buf, sizeof(buf), 0) > 0)
			rtt[got++] = (now_s() - t0) * 1e3;
		struct timespec gap = {.tv_nsec = interval_ms * 1000000L};
		nanosleep(&gap, NULL);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (got == 0) {
		fprintf(stderr, "udp_echo: no replies\n");
		return 1;
	}
	qsort(rtt, (size_t)got, sizeof(double), cmp_double);
	printf("%.4f %.4f %.4f %.4f %.4f\n", rtt[0], rtt[got / 10],
	       rtt[got / 2], rtt[(got * 9) / 10], rtt[got - 1]);
	free(rtt);
	return 0;
}
