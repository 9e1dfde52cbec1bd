/* ns per getservbyport() call through libc, on random ports 0-1023 (tcp), with whatever
 * /etc/nsswitch.conf says: bench/nss.sh runs it under several configurations. */
#include <netdb.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 200000;
    unsigned int state = 12345;
    long found = 0;
    struct timespec start, end;
    /* One warm-up call: the module is loaded and the registry mapped. */
    getservbyport(htons(22), "tcp");
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < calls; i++) {
        state = state * 1103515245u + 12345u;
        int port = (state >> 16) % 1024;
        if (getservbyport(htons(port), "tcp") != NULL) found++;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
    printf("%.0f %ld\n", ns / calls, found);
    return 0;
}
