/* auth.c: SMTP AUTH (RFC 4954) in smtpd, through lib/mail/sasl: the EHLO keyword, the AUTH
 * exchange with the reference's replies and log lines (the failure line is the one fail2ban's
 * postfix-sasl filter reads), and who owns a sender address (smtpd_sender_login_maps) for the
 * reject_*_sender_login_mismatch restrictions. A session's SASL server is made when AUTH is
 * first offered or used, and forgotten at STARTTLS (RFC 3207: nothing from before counts). */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "base/argv.h"
#include "base/inet.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/domlist.h"
#include "mail/maps.h"
#include "mail/sasl.h"
#include "smtpd.h"

static int sasl_enabled;    /* smtpd_sasl_auth_enable, and the back end started */
static pn_cidr *exceptions; /* smtpd_sasl_exceptions_networks: AUTH not offered */
static size_t exception_count;
static pn_argv *mech_filter;      /* smtpd_sasl_mechanism_filter */
static pn_maps *login_maps;       /* smtpd_sender_login_maps */
static pn_domlist *local_domains; /* mydestination: "user" is a key for these */

static void parse_exceptions(void)
{
    pn_argv *nets =
        pn_argv_split(pn_config_get(PN_P(smtpd_sasl_exceptions_networks)), PN_SEPARATORS);
    exceptions = pn_calloc(nets->len + 1, sizeof(pn_cidr));
    for (size_t i = 0; i < nets->len; i++) {
        pn_buf why = PN_BUF_INIT;
        if (pn_cidr_parse(nets->items[i], &exceptions[exception_count], &why) < 0)
            pn_fatal("smtpd_sasl_exceptions_networks: %s (only network addresses are supported)",
                     why.data);
        exception_count++;
        pn_buf_release(&why);
    }
    pn_argv_free(nets);
}

/* parse_filter: words, "!word" and "static:..." (which matches every mechanism). */
static void parse_filter(void)
{
    mech_filter = pn_argv_split(pn_config_get(PN_P(smtpd_sasl_mechanism_filter)), PN_SEPARATORS);
    for (size_t i = 0; i < mech_filter->len; i++) {
        const char *item = mech_filter->items[i] + (mech_filter->items[i][0] == '!');
        if (strchr(item, ':') && !pn_has_prefix(item, "static:"))
            pn_fatal("smtpd_sasl_mechanism_filter: \"%s\": only names and static: are supported",
                     mech_filter->items[i]);
    }
}

void smtpd_auth_init(void)
{
    pn_buf why = PN_BUF_INIT;
    pn_maps_free(login_maps); /* a second init reads the configuration anew */
    pn_domlist_free(local_domains);
    login_maps = NULL;
    local_domains = NULL;
    const char *maps = pn_config_get(PN_P(smtpd_sender_login_maps));
    if (*maps) {
        login_maps = pn_maps_open(PN_P(smtpd_sender_login_maps), maps, PN_DICT_DEFAULT_FLAGS, &why);
        local_domains = login_maps ? pn_domlist_open(PN_P(mydestination),
                                                     pn_config_get(PN_P(mydestination)), &why)
                                   : NULL;
        if (local_domains == NULL)
            pn_fatal("%s", why.data);
    }
    if (!pn_config_get_bool(PN_P(smtpd_sasl_auth_enable))) {
        pn_buf_release(&why);
        return;
    }
    if (pn_sasl_security_parse(pn_config_get(PN_P(smtpd_sasl_security_options)), &why) < 0 ||
        pn_sasl_security_parse(pn_config_get(PN_P(smtpd_sasl_tls_security_options)), &why) < 0)
        pn_fatal("%s", why.data);
    parse_exceptions();
    parse_filter();
    if (pn_sasl_server_init(pn_config_get(PN_P(smtpd_sasl_type)),
                            pn_config_get(PN_P(smtpd_sasl_path)), &why) < 0)
        pn_fatal("%s", why.data);
    sasl_enabled = 1;
    pn_buf_release(&why);
}

int smtpd_auth_changed(void)
{
    return login_maps && pn_maps_changed(login_maps);
}

/* filtered: the mechanism filter keeps this mechanism (the first item that matches says). */
static int filtered(const char *mech)
{
    for (size_t i = 0; i < mech_filter->len; i++) {
        const char *item = mech_filter->items[i];
        int negate = item[0] == '!';
        item += negate;
        if (pn_has_prefix(item, "static:") || strcasecmp(item, mech) == 0)
            return !negate;
    }
    return 0;
}

static void sockname(int fd, char *addr, size_t addr_len, char *port, size_t port_len)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    *addr = *port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, addr, (socklen_t)addr_len);
        snprintf(port, port_len, "%d", ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        pn_inet_addr a = {.family = AF_INET6};
        memcpy(a.bytes, &sin6->sin6_addr, 16);
        pn_inet_unmap(&a);
        inet_ntop(a.family, a.bytes, addr, (socklen_t)addr_len);
        snprintf(port, port_len, "%d", ntohs(sin6->sin6_port));
    }
}

/* activate: the session's SASL server, made on first use; NULL when the back end cannot be
 * reached (logged). */
static pn_sasl_server *activate(smtpd_session *s)
{
    if (s->sasl)
        return s->sasl;
    char addr[64], port[16];
    sockname(pn_stream_fd(s->client), addr, sizeof(addr), port, sizeof(port));
    pn_sasl_conn conn = {
        .service = pn_config_get(PN_P(smtpd_sasl_service)),
        .realm = pn_config_get(PN_P(smtpd_sasl_local_domain)),
        .server_addr = addr,
        .server_port = port,
        .client_addr = s->addr.data,
        .client_port = s->port.data,
        .security = pn_config_get(s->tls ? PN_P(smtpd_sasl_tls_security_options)
                                         : PN_P(smtpd_sasl_security_options)),
        .tls = s->tls != NULL,
    };
    pn_buf why = PN_BUF_INIT;
    s->sasl = pn_sasl_server_new(&conn, &why);
    if (s->sasl == NULL)
        pn_warn("SASL: %s", why.data);
    pn_buf_release(&why);
    return s->sasl;
}

/* usable: AUTH may be used now (smtpd_tls_auth_only waits for TLS). */
static int usable(const smtpd_session *s)
{
    if (!sasl_enabled)
        return 0;
    return s->tls ||
           !(pn_config_get_bool(PN_P(smtpd_tls_auth_only)) || smtpd_tls_level == PN_TLS_ENCRYPT);
}

void smtpd_auth_ehlo(smtpd_session *s, pn_argv *keywords)
{
    if (!usable(s))
        return;
    for (size_t i = 0; i < exception_count; i++)
        if (pn_cidr_match(&exceptions[i], &s->inet))
            return;
    if (activate(s) == NULL)
        return;
    pn_buf mechs = PN_BUF_INIT, why = PN_BUF_INIT, shown = PN_BUF_INIT;
    if (pn_sasl_server_mechs(s->sasl, &mechs, &why) < 0) {
        pn_warn("SASL: %s", why.data);
    } else {
        pn_argv *list = pn_argv_split(mechs.data, " ");
        for (size_t i = 0; i < list->len; i++)
            if (filtered(list->items[i]))
                pn_buf_printf(&shown, "%s%s", shown.len ? " " : "", list->items[i]);
        pn_argv_free(list);
    }
    if (shown.len) {
        pn_buf kw = PN_BUF_INIT;
        pn_buf_printf(&kw, "AUTH %s", shown.data);
        pn_argv_add(keywords, kw.data);
        if (pn_config_get_bool(PN_P(broken_sasl_auth_clients))) {
            pn_buf_reset(&kw);
            pn_buf_printf(&kw, "AUTH=%s", shown.data);
            pn_argv_add(keywords, kw.data);
        }
        pn_buf_release(&kw);
    }
    pn_buf_release(&mechs);
    pn_buf_release(&why);
    pn_buf_release(&shown);
}

void smtpd_auth_reset(smtpd_session *s)
{
    pn_sasl_server_free(s->sasl);
    s->sasl = NULL;
    pn_buf_reset(&s->sasl_method);
    pn_buf_reset(&s->sasl_username);
    pn_buf_reset(&s->sasl_sender);
}

/* read_response: the client's next line of the exchange; 0, or -1 when the session or the
 * exchange is over (replied and logged). */
static int read_response(smtpd_session *s, pn_buf *line)
{
    long limit = pn_config_get_int(PN_P(smtpd_sasl_response_limit));
    int rc = pn_stream_get_line(s->client, line, (size_t)limit);
    if (rc == PN_LINE_ERROR) {
        pn_info("timeout after AUTH from %s", s->namaddr.data);
        smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
                    pn_config_get_hostname(PN_P(myhostname)));
        s->quit = 1;
        return -1;
    }
    if (rc == PN_LINE_EOF || rc == PN_LINE_LAST) {
        pn_info("lost connection after AUTH from %s", s->namaddr.data);
        s->quit = 1;
        return -1;
    }
    if (rc == PN_LINE_TOO_LONG) {
        pn_warn("%s: request longer than %ld: %.30s...", s->namaddr.data, limit, line->data);
        pn_buf rest = PN_BUF_INIT;
        while (pn_stream_get_line(s->client, &rest, 4096) == PN_LINE_TOO_LONG)
            ;
        pn_buf_release(&rest);
        smtpd_reply(s, "500 5.5.6 SASL response limit exceeded");
        return -1;
    }
    if (line->len && line->data[line->len - 1] == '\r')
        pn_buf_truncate(line, line->len - 1);
    return 0;
}

void smtpd_cmd_auth(smtpd_session *s, const char *arg)
{
    if (!usable(s)) {
        smtpd_reply(s, "503 5.5.1 Error: authentication not enabled");
        return;
    }
    if (s->sasl_username.len) {
        smtpd_reply(s, "503 5.5.1 Error: already authenticated");
        return;
    }
    if (s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
        return;
    }
    if (smtpd_limit_auth(s) < 0)
        return;
    pn_argv *args = pn_argv_split(arg, " ");
    if (args->len < 1 || args->len > 2) {
        smtpd_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
        pn_argv_free(args);
        return;
    }
    const char *mech = args->items[0];
    pn_buf text = PN_BUF_INIT, line = PN_BUF_INIT;
    enum pn_sasl_status status;
    if (activate(s) == NULL) {
        status = PN_SASL_TEMP;
        pn_buf_set(&text, "Connection lost to authentication server");
    } else if (!filtered(mech)) {
        status = PN_SASL_FAIL;
        pn_buf_set(&text, "Invalid authentication mechanism");
    } else {
        status = pn_sasl_server_start(s->sasl, mech, args->len == 2 ? args->items[1] : NULL, &text);
    }
    while (status == PN_SASL_MORE) {
        smtpd_reply(s, "334 %s", text.data);
        if (s->quit || read_response(s, &line) < 0)
            goto out;
        if (strcmp(line.data, "*") == 0) {
            pn_warn("%s: SASL %s authentication aborted", s->namaddr.data, mech);
            smtpd_reply(s, "501 5.7.0 Authentication aborted");
            goto out;
        }
        status = pn_sasl_server_next(s->sasl, line.data, &text);
    }
    const char *login = status == PN_SASL_DONE ? pn_sasl_server_username(s->sasl) : NULL;
    if (status == PN_SASL_DONE && (login == NULL || *login == 0)) {
        status = PN_SASL_FAIL; /* nobody to be: not an authentication */
        pn_buf_set(&text, "no user name from the authentication server");
    } else if (status == PN_SASL_DONE && pn_addr_has_control(login, strlen(login))) {
        /* the name goes into headers, queue files, logs and policy requests */
        status = PN_SASL_FAIL;
        pn_buf_set(&text, "a user name with control characters");
    }
    if (status == PN_SASL_DONE) {
        pn_buf_set(&s->sasl_method, mech);
        pn_buf_set(&s->sasl_username, login);
        smtpd_reply(s, "235 2.7.0 Authentication successful");
    } else {
        const char *user = s->sasl ? pn_sasl_server_username(s->sasl) : NULL;
        pn_warn("%s: SASL %s authentication failed: %s, sasl_username=%s", s->namaddr.data, mech,
                text.data, user ? user : "(unavailable)");
        if (status == PN_SASL_TEMP)
            smtpd_reply(s, "454 4.7.0 Temporary authentication failure: %s", text.data);
        else
            smtpd_reply(s, "535 5.7.8 Error: authentication failed: %s", text.data);
    }
out:
    if (s->sasl_username.len == 0 && s->sasl) {
        /* a new exchange starts with a clean server: libsasl2 keeps a failed one's state */
        pn_sasl_server_free(s->sasl);
        s->sasl = NULL;
    }
    pn_argv_free(args);
    pn_buf_release(&text);
    pn_buf_release(&line);
}

/* owns: is login one of the owners (a list of login names)? */
static int owns(const char *owners, const char *login)
{
    pn_argv *list = pn_argv_split(owners, PN_SEPARATORS);
    int found = 0;
    for (size_t i = 0; i < list->len && !found; i++)
        found = strcasecmp(list->items[i], login) == 0;
    pn_argv_free(list);
    return found;
}

int smtpd_check_login(smtpd_session *s, int authenticated, int unauthenticated, int known,
                      pn_buf *reply)
{
    const char *sender = s->sender.data;
    if (*sender == 0 || (!s->sasl_username.len && !unauthenticated) ||
        (s->sasl_username.len && !authenticated))
        return 0;
    pn_buf owners = PN_BUF_INIT, domain = PN_BUF_INIT;
    int rc = 0;
    if (login_maps) {
        pn_addr_domain(sender, &domain);
        int local = domain.len && pn_domlist_match(local_domains, domain.data) > 0;
        rc = pn_maps_find_addr(login_maps, sender, pn_config_get(PN_P(recipient_delimiter)),
                               local ? PN_MAPS_LOCALPART : 0, &owners);
    }
    int refused = 0;
    if (rc < 0) {
        pn_buf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", sender);
        refused = 1;
    } else if (s->sasl_username.len) {
        if ((rc > 0 || !known) && !(rc > 0 && owns(owners.data, s->sasl_username.data))) {
            pn_buf_printf(reply, "553 5.7.1 <%s>: Sender address rejected: not owned by user %s",
                          sender, s->sasl_username.data);
            refused = 1;
        }
    } else if (rc > 0) {
        pn_buf_printf(reply, "553 5.7.1 <%s>: Sender address rejected: not logged in", sender);
        refused = 1;
    }
    pn_buf_release(&owners);
    pn_buf_release(&domain);
    return refused;
}
