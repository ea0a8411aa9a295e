/* self.c: is an address one of this host's own? The mail system's addresses are those of
 * inet_interfaces ("all": every interface address; "loopback-only": 127.0.0.1 and ::1) and
 * proxy_interfaces. An MX host with such an address would hand the mail back to us. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "smtp.h"

static pn_argv *own; /* numeric addresses, as inet_ntop writes them */

static void add_numeric(const struct sockaddr *sa)
{
    char text[INET6_ADDRSTRLEN];
    const void *bytes = sa->sa_family == AF_INET
                            ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                            : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (inet_ntop(sa->sa_family, bytes, text, sizeof(text)))
        pn_argv_add(own, text);
}

static void add_interfaces(const char *list)
{
    pn_argv *items = pn_argv_split(list, PN_SEPARATORS);
    for (size_t i = 0; i < items->len; i++) {
        const char *item = items->items[i];
        if (strcasecmp(item, "all") == 0) {
            struct ifaddrs *ifs = NULL;
            if (getifaddrs(&ifs) == 0) {
                for (struct ifaddrs *f = ifs; f; f = f->ifa_next)
                    if (f->ifa_addr &&
                        (f->ifa_addr->sa_family == AF_INET || f->ifa_addr->sa_family == AF_INET6))
                        add_numeric(f->ifa_addr);
                freeifaddrs(ifs);
            }
        } else if (strcasecmp(item, "loopback-only") == 0) {
            pn_argv_add(own, "127.0.0.1");
            pn_argv_add(own, "::1");
        } else {
            struct addrinfo hints, *res = NULL;
            memset(&hints, 0, sizeof(hints));
            hints.ai_socktype = SOCK_STREAM;
            const char *host = item[0] == '[' ? item + 1 : item;
            char copy[256];
            snprintf(copy, sizeof(copy), "%s", host);
            copy[strcspn(copy, "]")] = 0;
            if (getaddrinfo(copy, NULL, &hints, &res) == 0) {
                for (struct addrinfo *r = res; r; r = r->ai_next)
                    add_numeric(r->ai_addr);
                freeaddrinfo(res);
            }
        }
    }
    pn_argv_free(items);
}

int is_self(const pn_sockaddr *addr)
{
    if (own == NULL) {
        own = pn_argv_new();
        add_interfaces(pn_config_get("inet_interfaces"));
        add_interfaces(pn_config_get("proxy_interfaces"));
    }
    if (addr->ss.ss_family != AF_INET && addr->ss.ss_family != AF_INET6)
        return 0;
    char text[INET6_ADDRSTRLEN] = "";
    const void *bytes = addr->ss.ss_family == AF_INET
                            ? (const void *)&((const struct sockaddr_in *)&addr->ss)->sin_addr
                            : (const void *)&((const struct sockaddr_in6 *)&addr->ss)->sin6_addr;
    inet_ntop(addr->ss.ss_family, bytes, text, sizeof(text));
    for (size_t i = 0; i < own->len; i++)
        if (strcmp(own->items[i], text) == 0)
            return 1;
    return 0;
}
