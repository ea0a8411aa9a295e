/* fuzz_dns.c: the DNS answer handling of lib/mail/dns.c (c-ares's parsers and what is built
 * from their results: MX lists, null MX, addresses, TXT text, NS hosts, TLSA records) on any
 * answer, given for every query in place of the resolver's, in both the plain and the
 * DNSSEC mode. */
#include "base/sock.h"
#include "fuzz.h"
#include "mail/dns.h"

struct given {
    const uint8_t *data;
    size_t size;
};

static int answer(const char *name, int type, const unsigned char **abuf, int *alen, void *ctx)
{
    (void)name;
    (void)type;
    struct given *g = ctx;
    *abuf = g->data;
    *alen = (int)g->size;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_dns");
    if (size > 65535)
        return 0;
    uint8_t *copy = malloc(size ? size : 1); /* exactly the answer: ASan sees a read past it */
    memcpy(copy, data, size);
    struct given g = {copy, size};
    pn_dns_set_source(answer, &g);
    pn_dns_set_mode(size && (data[0] & 1) ? PN_DNS_DNSSEC : PN_DNS_ENABLED);
    pn_buf why = PN_BUF_INIT, text = PN_BUF_INIT;
    pn_mx *mx = NULL;
    int count = 0, null_mx = 0, secure = 0;
    pn_dns_mx("example.com", &mx, &count, &null_mx, &secure, &why);
    free(mx);
    pn_addrlist addrs = {0};
    pn_dns_addrs("mx.example.com", 25, &addrs, &secure, &why);
    pn_addrlist_free(&addrs);
    unsigned char a[8][4];
    int n = 0;
    pn_dns_a("2.0.0.127.zen.example", a, 8, &n, &why);
    pn_dns_txt("2.0.0.127.zen.example", &text, &why);
    pn_argv *hosts = pn_argv_new();
    pn_dns_ns("example.com", hosts, &why);
    pn_argv_free(hosts);
    pn_tlsa *tlsa = NULL;
    pn_dns_tlsa("mx.example.com", 25, &tlsa, &count, &secure, &why);
    pn_dns_tlsa_free(tlsa, count);
    pn_buf_release(&why);
    pn_buf_release(&text);
    free(copy);
    return 0;
}
