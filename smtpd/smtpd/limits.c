/* limits.c: the per-client limits that anvil counts (smtpd/anvil): connections at once and
 * per anvil_rate_time_unit (smtpd_client_connection_count_limit, _connection_rate_limit),
 * MAIL and RCPT commands (_message_rate_limit, _recipient_rate_limit), new TLS sessions
 * (_new_tls_session_rate_limit) and AUTH commands (_auth_rate_limit), per "service:address".
 * Clients that smtpd_client_event_limit_exceptions matches are exempt from these; no client
 * holds more than four fifths of the service's processes (share_cap).
 * A limit is exceeded when the count passes it; the replies and warnings are the
 * reference's. Without anvil there are no limits (anvil_client.c warns). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/inet.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/anvil_client.h"
#include "mail/maps.h"
#include "smtpd.h"

/* The exceptions: networks, tables (looked up by address, then name), host names
 * (".domain" for the names below it). */
static pn_cidr *nets;
static size_t net_count;
static pn_argv *names;
static pn_maps **tables;
static size_t table_count;

void smtpd_limits_init(void)
{
    const char *param = PN_P(smtpd_client_event_limit_exceptions);
    pn_argv *words = pn_argv_split(pn_config_get(param), PN_SEPARATORS);
    nets = pn_calloc(words->len + 1, sizeof(pn_cidr));
    tables = pn_calloc(words->len + 1, sizeof(pn_maps *));
    names = pn_argv_new();
    for (size_t i = 0; i < words->len; i++) {
        const char *w = words->items[i];
        pn_buf why = PN_BUF_INIT;
        if (pn_cidr_parse(w, &nets[net_count], &why) == 0) {
            net_count++;
        } else if (strchr(w, ':') && w[0] != '[') {
            if ((tables[table_count] = pn_maps_open(param, w, PN_DICT_DEFAULT_FLAGS, &why)) == NULL)
                pn_fatal("%s", why.data);
            table_count++;
        } else {
            pn_argv_add(names, w);
        }
        pn_buf_release(&why);
    }
    pn_argv_free(words);
}

static int name_matches(const char *pattern, const char *name)
{
    if (pattern[0] == '.') {
        size_t plen = strlen(pattern), nlen = strlen(name);
        return nlen > plen && strcasecmp(name + nlen - plen, pattern) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

static int exempt(const smtpd_session *s)
{
    for (size_t i = 0; i < net_count; i++)
        if (pn_cidr_match(&nets[i], &s->inet))
            return 1;
    for (size_t i = 0; i < names->len; i++)
        if (strcmp(s->name.data, "unknown") != 0 && name_matches(names->items[i], s->name.data))
            return 1;
    for (size_t i = 0; i < table_count; i++) {
        pn_buf value = PN_BUF_INIT;
        int rc = pn_maps_find(tables[i], s->addr.data, &value);
        if (rc == 0 && strcmp(s->name.data, "unknown") != 0)
            rc = pn_maps_find(tables[i], s->name.data, &value);
        pn_buf_release(&value);
        if (rc > 0)
            return 1;
    }
    return 0;
}

static const char *service(void)
{
    const char *name = pn_config_get(PN_P(service_name));
    return *name ? name : "smtp";
}

/* share_cap: the connections one client may hold at once whatever the limits and their
 * exceptions say: four fifths of the service's process limit, so that a flood from one
 * address, even an exempt one, leaves processes to the others (doc/abuse.md). 0: none. */
static int share_cap(void)
{
    int limit = pn_server_process_limit();
    return limit >= 5 ? limit - limit / 5 : 0;
}

/* counted: anvil counts the client (some limit is on for it, or the share cap); its ident is
 * set the first time. An exempt client is counted for the share cap only. */
static int counted(smtpd_session *s)
{
    if (s->limits_checked)
        return s->anvil_ident.len > 0;
    s->limits_checked = 1;
    static const char *const limits[] = {
        PN_P(smtpd_client_connection_count_limit),     PN_P(smtpd_client_connection_rate_limit),
        PN_P(smtpd_client_message_rate_limit),         PN_P(smtpd_client_recipient_rate_limit),
        PN_P(smtpd_client_new_tls_session_rate_limit), PN_P(smtpd_client_auth_rate_limit)};
    int any = 0;
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
        any = any || pn_config_get_int(limits[i]) > 0;
    s->limits_exempt = exempt(s);
    if ((any && !s->limits_exempt) || share_cap() > 0)
        pn_buf_printf(&s->anvil_ident, "%s:%s", service(), s->addr.data);
    return s->anvil_ident.len > 0;
}

/* event: one counted event for the session's client; the rate (and count) anvil gives, or
 * -1 when the client is not counted (or, but for connections, exempt). */
static int event(smtpd_session *s, const char *req, int *count)
{
    int rate = 0;
    if (!counted(s) || (s->limits_exempt && count == NULL) ||
        pn_anvil_event(req, s->anvil_ident.data, count, &rate) < 0)
        return -1;
    return rate;
}

int smtpd_limit_connect(smtpd_session *s)
{
    long count_limit = pn_config_get_int(PN_P(smtpd_client_connection_count_limit));
    long rate_limit = pn_config_get_int(PN_P(smtpd_client_connection_rate_limit));
    int count = 0, rate = event(s, PN_REQ_CONNECT, &count);
    if (rate < 0)
        return 0;
    s->anvil_connected = 1;
    long cap = share_cap();
    if (s->limits_exempt || count_limit <= 0 || (cap > 0 && count_limit > cap))
        count_limit = cap;
    if (s->limits_exempt)
        rate_limit = 0;
    const char *what = NULL;
    int value = 0;
    if (count_limit > 0 && count > count_limit) {
        what = "Connection concurrency";
        value = count;
    } else if (rate_limit > 0 && rate > rate_limit) {
        what = "Connection rate";
        value = rate;
    }
    if (what == NULL)
        return 0;
    pn_warn("%s limit exceeded: %d from %s for service %s", what, value, s->namaddr.data,
            service());
    s->error_classes |= 1 << ERROR_POLICY;
    smtpd_reply(s, "421 4.7.0 %s Error: too many connections from %s",
                pn_config_get_hostname(PN_P(myhostname)), s->addr.data);
    return -1;
}

void smtpd_limit_disconnect(smtpd_session *s)
{
    if (s->anvil_connected)
        pn_anvil_event(PN_REQ_DISCONNECT, s->anvil_ident.data, NULL, NULL);
    s->anvil_connected = 0;
}

/* over: a rate past its limit: the warning, the reply, -1. */
static int over(smtpd_session *s, const char *param, const char *req, const char *what,
                const char *fmt)
{
    long limit = pn_config_get_int(param);
    int rate = limit > 0 ? event(s, req, NULL) : -1;
    if (rate < 0 || rate <= limit)
        return 0;
    pn_warn("%s rate limit exceeded: %d from %s for service %s", what, rate, s->namaddr.data,
            service());
    s->error_classes |= 1 << ERROR_POLICY;
    smtpd_reply(s, fmt, s->addr.data);
    return -1;
}

int smtpd_limit_mail(smtpd_session *s)
{
    return over(s, PN_P(smtpd_client_message_rate_limit), PN_REQ_MESSAGE,
                "Message delivery request", "450 4.7.1 Error: too much mail from %s");
}

int smtpd_limit_rcpt(smtpd_session *s)
{
    return over(s, PN_P(smtpd_client_recipient_rate_limit), PN_REQ_RECIPIENT, "Recipient address",
                "450 4.7.1 Error: too many recipients from %s");
}

int smtpd_limit_auth(smtpd_session *s)
{
    return over(s, PN_P(smtpd_client_auth_rate_limit), PN_REQ_AUTH, "AUTH command",
                "450 4.7.1 Error: too many AUTH commands from %s");
}

int smtpd_limit_newtls_check(smtpd_session *s, int wrapper)
{
    long limit = pn_config_get_int(PN_P(smtpd_client_new_tls_session_rate_limit));
    int rate = limit > 0 ? event(s, PN_REQ_NEWTLS_REPORT, NULL) : -1;
    /* STARTTLS asks before the handshake (one more would pass the limit); wrapper mode
     * after it, the session counted */
    if (rate < 0 || (wrapper ? rate <= limit : rate < limit))
        return 0;
    pn_warn("New TLS session rate limit exceeded: %d from %s for service %s", rate, s->namaddr.data,
            service());
    s->error_classes |= 1 << ERROR_POLICY;
    if (wrapper)
        smtpd_reply(s, "421 4.7.0 %s Error: too many new TLS sessions from %s",
                    pn_config_get_hostname(PN_P(myhostname)), s->addr.data);
    else
        smtpd_reply(s, "454 4.7.0 Error: too many new TLS sessions from %s", s->addr.data);
    return -1;
}

void smtpd_limit_newtls(smtpd_session *s)
{
    if (pn_config_get_int(PN_P(smtpd_client_new_tls_session_rate_limit)) > 0)
        event(s, PN_REQ_NEWTLS, NULL);
}
