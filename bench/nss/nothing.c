/* A do-nothing NSS services module: glibc's own floor for a lookup through nsswitch. */
#include <nss.h>
#include <netdb.h>
#include <stddef.h>

enum nss_status _nss_nothing_getservbyport_r(int port, const char *proto, struct servent *result,
                                             char *buffer, size_t buflen, int *errnop) {
    (void)port; (void)proto; (void)result; (void)buffer; (void)buflen; (void)errnop;
    return NSS_STATUS_NOTFOUND;
}
enum nss_status _nss_nothing_getservbyname_r(const char *name, const char *proto, struct servent *result,
                                             char *buffer, size_t buflen, int *errnop) {
    (void)name; (void)proto; (void)result; (void)buffer; (void)buflen; (void)errnop;
    return NSS_STATUS_NOTFOUND;
}
