/* cache.c: the connection this smtp/lmtp process keeps after a transaction, so that the next
 * request for the same next hop skips the connection set-up and the greeting: it is checked
 * with RSET before it is used, closed with QUIT when it was idle for
 * <prefix>_connection_cache_time_limit, and not reused once it is older than
 * <prefix>_connection_reuse_time_limit or has been used
 * <prefix>_connection_reuse_count_limit times (0: no count limit). A TLS connection is kept
 * (with <prefix>_tls_connection_reuse) as it is, its session in this process. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config/cfparams.h"
#include "smtp.h"

static struct {
    struct session ss; /* ss.s != NULL: a connection is kept */
    char nexthop[512];
    char relay[600];
    int uses;
    struct timespec idle_since;
    time_t first_use;
} kept;

static double elapsed(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (now.tv_nsec - since->tv_nsec) / 1e9;
}

void cache_close(void *ctx)
{
    (void)ctx;
    if (kept.ss.s == NULL)
        return;
    command(&kept.ss, SMTP_PARAM(quit_timeout), "QUIT");
    smtp_session_close(&kept.ss);
    pn_buf_release(&kept.ss.reply);
}

void cache_put(struct session *ss, const char *nexthop, const char *relay, int uses)
{
    long limit = pn_config_get_int(SMTP_PARAM(connection_reuse_count_limit));
    if (kept.ss.s)
        cache_close(NULL);
    if (strlen(nexthop) >= sizeof(kept.nexthop) || (limit > 0 && uses >= limit) ||
        pn_config_get_time(SMTP_PARAM(connection_cache_time_limit)) <= 0) {
        command(ss, SMTP_PARAM(quit_timeout), "QUIT");
        smtp_session_close(ss);
        return;
    }
    if (uses == 1)
        kept.first_use = time(NULL);
    kept.ss = *ss; /* the stream and the reply buffer move into the cache */
    pn_buf_init(&ss->reply);
    ss->s = NULL;
    snprintf(kept.nexthop, sizeof(kept.nexthop), "%s", nexthop);
    snprintf(kept.relay, sizeof(kept.relay), "%s", relay);
    kept.uses = uses;
    clock_gettime(CLOCK_MONOTONIC, &kept.idle_since);
}

int cache_take(const char *nexthop, struct session *ss, char *relay, size_t len, int *uses)
{
    if (kept.ss.s == NULL)
        return 0;
    if (strcmp(kept.nexthop, nexthop) != 0 || cache_idle_ms(NULL) == 0 ||
        time(NULL) - kept.first_use >=
            pn_config_get_time(SMTP_PARAM(connection_reuse_time_limit))) {
        cache_close(NULL);
        return 0;
    }
    if (command(&kept.ss, SMTP_PARAM(rset_timeout), "RSET") < 0 || kept.ss.code / 100 != 2) {
        smtp_session_close(&kept.ss); /* gone, or confused: start afresh */
        pn_buf_release(&kept.ss.reply);
        return 0;
    }
    pn_buf_release(&ss->reply);
    *ss = kept.ss;
    kept.ss.s = NULL;
    pn_buf_init(&kept.ss.reply);
    snprintf(relay, len, "%s", kept.relay);
    *uses = kept.uses + 1;
    return 1;
}

int cache_idle_ms(void *ctx)
{
    (void)ctx;
    if (kept.ss.s == NULL)
        return 0;
    double left = (double)pn_config_get_time(SMTP_PARAM(connection_cache_time_limit)) -
                  elapsed(&kept.idle_since);
    return left > 0 ? (int)(left * 1000) + 1 : 0;
}
