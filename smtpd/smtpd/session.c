/* session.c: the SMTP command loop: one line at a time (bounded, CR LF or LF ended), a
 * command table, the reference's replies, error counting with the soft and hard limits, the
 * pipelining check for clients that did not say EHLO, and the log lines a log parser expects
 * (NOQUEUE rejects, the disconnect statistics). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "ipc/proto.h"
#include "mail/addr.h"
#include "mail/flushclnt.h"
#include "smtpd.h"

static const char *const cmd_names[CMD_COUNT] = {
    "helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt",
    "data", "bdat", "rset",    "noop",     "vrfy",     "etrn", "quit", "unknown",
};

void smtpd_reply(smtpd_session *s, const char *fmt, ...)
{
    va_list ap;
    pn_buf line = PN_BUF_INIT;
    va_start(ap, fmt);
    pn_buf_vprintf(&line, fmt, ap);
    va_end(ap);
    if (line.len > 4 && (line.data[0] == '4' || line.data[0] == '5'))
        smtpd_footer(s, &line);
    pn_buf_puts(&line, "\r\n");
    transcript_reply(s, line.data, line.len);
    /* replies to pipelined commands go out together: the flush waits until no command the
     * client sent is left unread (RFC 2920) */
    if (pn_stream_write(s->client, line.data, line.len) < 0 ||
        (pn_stream_buffered(s->client) == 0 && pn_stream_flush(s->client) < 0))
        s->quit = 1;
    if (line.data[0] == '4' || line.data[0] == '5')
        s->errors++;
    pn_buf_release(&line);
}

const char *smtpd_proto(const smtpd_session *s)
{
    return s->esmtp ? "ESMTP" : "SMTP";
}

const char *smtpd_received_proto(const smtpd_session *s)
{
    static char proto[16];
    snprintf(proto, sizeof(proto), "%s%s%s", smtpd_proto(s), s->tls ? "S" : "",
             s->sasl_username.len ? "A" : "");
    return proto;
}

/* offers_starttls: STARTTLS is in the EHLO reply (also when the certificate is unusable: the
 * command then says why, as the reference does). */
static int offers_starttls(const smtpd_session *s)
{
    return s->tls == NULL && smtpd_tls_level != PN_TLS_NONE &&
           !pn_config_get_bool(PN_P(smtpd_tls_wrappermode));
}

int smtpd_start_tls(smtpd_session *s)
{
    pn_buf why = PN_BUF_INIT;
    long timeout = pn_config_get_time(PN_P(smtpd_starttls_timeout)) * 1000;
    s->tls = pn_tls_accept(smtpd_tls, pn_stream_fd(s->client), (int)timeout, &why);
    if (s->tls == NULL) {
        pn_info("SSL_accept error from %s: %s", s->namaddr.data, why.data);
        pn_buf_release(&why);
        return -1;
    }
    pn_tls_attach(s->tls, s->client);
    if (!pn_tls_resumed(s->tls))
        smtpd_limit_newtls(s);
    int required =
        pn_config_get_bool(PN_P(smtpd_tls_req_ccert)) && smtpd_tls_level == PN_TLS_ENCRYPT;
    s->ccert = 0;
    if ((required || pn_config_get_bool(PN_P(smtpd_tls_ask_ccert))) &&
        pn_tls_peer_present(s->tls)) {
        s->ccert = pn_tls_peer_trusted(s->tls, &why) ? 2 : 1;
        pn_tls_peer_names(s->tls, &s->ccert_cn, &s->ccert_issuer);
        pn_tls_peer_fingerprints(s->tls, pn_config_get(PN_P(smtpd_tls_fingerprint_digest)),
                                 &s->ccert_fp, &s->ccert_pkey_fp);
        if (required && s->ccert == 1)
            pn_info("certificate verification failed for %s: %s", s->namaddr.data, why.data);
    }
    if (pn_config_get_int(PN_P(smtpd_tls_loglevel)) >= 1) {
        pn_buf text = PN_BUF_INIT;
        pn_tls_describe(s->tls, 0, &text);
        pn_info("%s TLS connection established from %s: %s",
                s->ccert == 2   ? "Trusted"
                : s->ccert == 1 ? "Untrusted"
                                : "Anonymous",
                s->namaddr.data, text.data);
        pn_buf_release(&text);
    }
    pn_buf_release(&why);
    if (required && s->ccert != 2) { /* smtpd_tls_req_ccert: no mail without a trusted one */
        const char *problem =
            s->ccert ? "Client certificate not trusted" : "No client certificate presented";
        pn_info("NOQUEUE: abort: TLS from %s: %s", s->namaddr.data, problem);
        smtpd_reply(s, "421 4.7.1 %s Error: %s", pn_config_get_hostname(PN_P(myhostname)), problem);
        s->quit = 1;
    }
    return 0;
}

/* cmd_starttls: "220 Ready", then nothing the client sent before the handshake counts, and
 * the session starts over (EHLO again). */
static void cmd_starttls(smtpd_session *s, const char *arg)
{
    if (*arg) {
        smtpd_reply(s, "501 5.5.4 Syntax: STARTTLS");
    } else if (s->tls) {
        smtpd_reply(s, "554 5.5.1 Error: TLS already active");
    } else if (!offers_starttls(s)) {
        smtpd_reply(s, "502 5.5.1 Error: command not implemented");
    } else if (!pn_tls_server_usable(smtpd_tls)) {
        smtpd_reply(s, "454 4.7.0 TLS not available due to local problem");
    } else if (smtpd_limit_newtls_check(s, 0) == 0) {
        smtpd_reply(s, "220 2.0.0 Ready to start TLS");
        if (pn_stream_flush(s->client) < 0) /* also when the client pipelined more */
            s->quit = 1;
        pn_stream_drop_input(s->client); /* plaintext pipelined after STARTTLS: never a command */
        if (s->quit || smtpd_start_tls(s) < 0) {
            pn_info("lost connection after STARTTLS from %s", s->namaddr.data);
            s->errors++;
            s->quit = 1;
            return;
        }
        smtpd_reset_transaction(s);
        smtpd_auth_reset(s);
        pn_buf_reset(&s->helo);
        s->esmtp = 0;
    }
}

static void clear_mail_params(smtpd_session *s)
{
    s->message_size = 0;
    s->encoding[0] = s->ret[0] = 0;
    pn_buf_reset(&s->envid);
    pn_buf_reset(&s->sasl_sender);
    s->smtputf8 = 0;
}

void smtpd_reset_transaction(smtpd_session *s)
{
    submit_abort(s);
    s->in_mail = 0;
    pn_buf_reset(&s->sender);
    pn_argv_free(s->rcpts);
    s->rcpts = pn_argv_new();
    s->rcpt_attempts = 0;
    clear_mail_params(s);
    pn_buf_reset(&s->queue_id);
    pn_buf_reset(&s->bdat);
    s->bdat_active = s->bdat_failed = 0;
    pn_argv_free(s->prepend);
    s->prepend = pn_argv_new();
    pn_argv_free(s->actions);
    s->actions = pn_argv_new();
    s->held = s->discarded = 0;
    pn_buf_reset(&s->policy_instance);
}

/* ends_group: a command after which a client must wait for the reply (RFC 2920). */
static int ends_group(const char *line)
{
    static const char *const last[] = {"EHLO", "HELO", "DATA", "VRFY", "EXPN", "NOOP",
                                       "QUIT", "ETRN", "STARTTLS"};
    size_t len = strcspn(line, " ");
    for (size_t i = 0; i < sizeof(last) / sizeof(last[0]); i++)
        if (len == strlen(last[i]) && strncasecmp(line, last[i], len) == 0)
            return 1;
    return 0;
}

void smtpd_session_init(smtpd_session *s)
{
    memset(s, 0, sizeof(*s));
    pn_buf_init(&s->name);
    pn_buf_init(&s->reverse_name);
    pn_buf_init(&s->namaddr);
    pn_buf_init(&s->addr);
    pn_buf_init(&s->port);
    pn_buf_init(&s->helo);
    pn_buf_init(&s->sender);
    pn_buf_init(&s->queue_id);
    pn_buf_init(&s->bdat);
    pn_buf_init(&s->envid);
    pn_buf_init(&s->transcript);
    pn_buf_init(&s->sasl_method);
    pn_buf_init(&s->ccert_pkey_fp);
    pn_buf_init(&s->ccert_fp);
    pn_buf_init(&s->ccert_issuer);
    pn_buf_init(&s->ccert_cn);
    pn_buf_init(&s->sasl_username);
    pn_buf_init(&s->sasl_sender);
    pn_buf_init(&s->anvil_ident);
    pn_buf_init(&s->policy_instance);
    s->prepend = pn_argv_new();
    s->actions = pn_argv_new();
    pn_buf_init(&s->access_denied);
    s->rcpts = pn_argv_new();
}

void smtpd_session_release(smtpd_session *s)
{
    pn_argv_free(s->rcpts);
    pn_buf_release(&s->name);
    pn_buf_release(&s->reverse_name);
    pn_buf_release(&s->namaddr);
    pn_buf_release(&s->addr);
    pn_buf_release(&s->port);
    pn_buf_release(&s->helo);
    pn_buf_release(&s->sender);
    pn_buf_release(&s->queue_id);
    pn_buf_release(&s->bdat);
    pn_buf_release(&s->envid);
    pn_buf_release(&s->transcript);
    smtpd_auth_reset(s);
    pn_buf_release(&s->sasl_method);
    pn_buf_release(&s->ccert_pkey_fp);
    pn_buf_release(&s->ccert_fp);
    pn_buf_release(&s->ccert_issuer);
    pn_buf_release(&s->ccert_cn);
    pn_buf_release(&s->sasl_username);
    pn_buf_release(&s->sasl_sender);
    pn_buf_release(&s->anvil_ident);
    pn_buf_release(&s->policy_instance);
    pn_argv_free(s->prepend);
    pn_argv_free(s->actions);
    pn_buf_release(&s->access_denied);
}

void smtpd_log_action(smtpd_session *s, const char *verb, const char *stage, const char *text,
                      const char *rcpt)
{
    pn_buf line = PN_BUF_INIT;
    pn_buf_printf(&line, "%s: %s: %s from %s: %s;", s->queue_id.len ? s->queue_id.data : "NOQUEUE",
                  verb, stage, s->namaddr.data, text);
    if (s->in_mail) /* the sender only exists inside a mail transaction (not at ETRN) */
        pn_buf_printf(&line, " from=<%s>", s->sender.data);
    if (rcpt)
        pn_buf_printf(&line, " to=<%s>", rcpt);
    pn_buf_printf(&line, " proto=%s", smtpd_proto(s));
    if (s->helo.len)
        pn_buf_printf(&line, " helo=<%s>", s->helo.data);
    pn_info("%s", line.data);
    pn_buf_release(&line);
}

static void reject_log(smtpd_session *s, const char *stage, const char *reply, const char *rcpt)
{
    smtpd_log_action(s, "reject", stage, reply, rcpt);
}

/* parse_path: "<addr>" after FROM:/TO:, with optional blanks; the rest are parameters. */
static int parse_path(const char *arg, const char *keyword, pn_buf *addr, const char **params)
{
    size_t klen = strlen(keyword);
    if (strncasecmp(arg, keyword, klen) != 0)
        return -1;
    arg += klen;
    while (*arg == ' ')
        arg++;
    if (*arg != '<')
        return -1;
    const char *end = arg + 1; /* the '>' that is not in a quoted local part */
    for (int quoted = 0; *end && (quoted || *end != '>'); end++) {
        if (*end == '\\' && quoted && end[1])
            end++;
        else if (*end == '"')
            quoted = !quoted;
    }
    if (*end != '>')
        return -1;
    pn_buf_reset(addr);
    pn_buf_append(addr, arg + 1, (size_t)(end - arg - 1));
    *params = end + 1;
    return 0;
}

/* address_ok: no control characters; white space and angle brackets only in quotes. */
static int address_ok(const char *addr)
{
    int quoted = 0;
    for (const char *cp = addr; *cp; cp++) {
        unsigned char c = (unsigned char)*cp;
        if (c < 32 || c == 127)
            return 0;
        if (c == '\\' && quoted && cp[1] && (unsigned char)cp[1] >= 32)
            cp++;
        else if (c == '"')
            quoted = !quoted;
        else if (!quoted && (c == ' ' || c == '<' || c == '>'))
            return 0;
    }
    return !quoted && strlen(addr) <= 1000;
}

/* min_user: an address that starts with '-' (it could pass for an option to a command that
 * gets it as an argument), refused as the reference does unless allow_min_user is set. */
static int min_user(const smtpd_session *s, const char *command, const char *addr)
{
    if (addr[0] != '-' || pn_config_get_bool(PN_P(allow_min_user)))
        return 0;
    pn_warn("Illegal address syntax from %s in %s command: <%s>", s->namaddr.data, command, addr);
    return 1;
}

static void cmd_helo(smtpd_session *s, const char *arg, int esmtp)
{
    if (*arg == 0) {
        smtpd_reply(s, "501 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
        return;
    }
    smtpd_reset_transaction(s);
    pn_buf_set(&s->helo, arg);
    s->esmtp = 0; /* until accepted: a refusal logs proto=SMTP */
    pn_buf refusal = PN_BUF_INIT;
    if (smtpd_check_helo(s, esmtp ? "EHLO" : "HELO", &refusal) < 0) {
        smtpd_reply(s, "%s", refusal.data);
        pn_buf_reset(&s->helo);
        pn_buf_release(&refusal);
        return;
    }
    pn_buf_release(&refusal);
    s->esmtp = esmtp;
    const char *host = pn_config_get_hostname(PN_P(myhostname));
    if (!esmtp) {
        smtpd_reply(s, "250 %s", host);
        return;
    }
    /* the keywords, less those smtpd_discard_ehlo_keywords hides */
    pn_argv *kw = pn_argv_new();
    long size = pn_config_get_int(PN_P(message_size_limit));
    pn_buf text = PN_BUF_INIT, reply = PN_BUF_INIT;
    pn_argv_add(kw, "PIPELINING");
    pn_buf_printf(&text, size > 0 ? "SIZE %ld" : "SIZE", size);
    pn_argv_add(kw, text.data);
    if (!pn_config_get_bool(PN_P(disable_vrfy_command)))
        pn_argv_add(kw, "VRFY");
    pn_argv_add(kw, "ETRN");
    if (offers_starttls(s))
        pn_argv_add(kw, "STARTTLS");
    smtpd_auth_ehlo(s, kw);
    pn_argv_add(kw, "ENHANCEDSTATUSCODES");
    pn_argv_add(kw, "8BITMIME");
    pn_argv_add(kw, "DSN");
    if (strcasecmp(pn_config_get(PN_P(smtputf8_enable)), "yes") == 0)
        pn_argv_add(kw, "SMTPUTF8");
    pn_argv_add(kw, "CHUNKING");
    pn_buf_printf(&reply, "250-%s", host);
    size_t shown = 0;
    for (size_t i = 0; i < kw->len; i++) {
        char word[32];
        snprintf(word, sizeof(word), "%.*s", (int)strcspn(kw->items[i], " "), kw->items[i]);
        if (!pn_config_list_has(PN_P(smtpd_discard_ehlo_keywords), word)) {
            pn_buf_printf(&reply, "\r\n250-%s", kw->items[i]);
            shown++;
        }
    }
    /* the last line has a space after its code */
    char *last = shown ? strrchr(reply.data, '\n') + 4 : reply.data + 3;
    *last = ' ';
    smtpd_reply(s, "%s", reply.data);
    pn_argv_free(kw);
    pn_buf_release(&text);
    pn_buf_release(&reply);
}

/* queue_space_ok: the queue's file system has more than queue_minfree free, and room for
 * 1.5 messages of message_size_limit. */
static int queue_space_ok(void)
{
    struct statvfs fs;
    if (statvfs(".", &fs) < 0)
        return 1; /* nothing known: the fsync at the end of DATA still tells */
    unsigned long long free_bytes = (unsigned long long)fs.f_bavail * fs.f_frsize;
    unsigned long long minfree = (unsigned long long)pn_config_get_int(PN_P(queue_minfree));
    unsigned long long limit = (unsigned long long)pn_config_get_int(PN_P(message_size_limit));
    if (free_bytes > minfree && free_bytes >= limit + limit / 2)
        return 1;
    pn_warn("not enough free space in mail queue: %llu bytes < 1.5*message size limit", free_bytes);
    return 0;
}

static void cmd_mail(smtpd_session *s, const char *arg)
{
    pn_buf addr = PN_BUF_INIT, reply = PN_BUF_INIT;
    const char *params;
    if (s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: nested MAIL command");
    } else if (pn_config_get_bool(PN_P(smtpd_helo_required)) && s->helo.len == 0) {
        smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
    } else if (parse_path(arg, "FROM:", &addr, &params) < 0) {
        smtpd_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
    } else if (!address_ok(addr.data) || min_user(s, "MAIL", addr.data) ||
               (addr.len && !smtpd_address_resolves(addr.data))) {
        smtpd_reply(s, "501 5.1.7 Bad sender address syntax");
    } else if (smtpd_limit_mail(s) < 0) {
        /* too much mail from this client: said */
    } else if (smtpd_mail_params(s, params, &reply) < 0) {
        smtpd_reply(s, "%s", reply.data);
        clear_mail_params(s);
    } else {
        long limit = pn_config_get_int(PN_P(message_size_limit)), size = s->message_size;
        if (limit > 0 && (size > limit || size < 0)) {
            smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
            clear_mail_params(s);
        } else if (!queue_space_ok()) {
            const char *text = "452 4.3.1 Insufficient system storage";
            pn_buf_set(&s->sender, addr.data);
            s->in_mail = 1; /* the reject line names the sender, as for a refused MAIL */
            reject_log(s, "MAIL", text, NULL);
            s->in_mail = 0;
            smtpd_reply(s, "%s", text);
            clear_mail_params(s);
        } else {
            pn_buf canon = PN_BUF_INIT;
            if (addr.len)
                pn_addr_rewrite_local(addr.data, &canon);
            pn_buf_set(&s->sender, pn_buf_str(&canon));
            pn_buf_release(&canon);
            s->in_mail = 1;
            pn_buf why = PN_BUF_INIT;
            if (smtpd_check_mail(s, &reply) < 0) { /* smtpd_delay_reject = no */
                smtpd_reply(s, "%s", reply.data);
                s->in_mail = 0;
                pn_buf_reset(&s->sender);
                clear_mail_params(s);
            } else if (!pn_config_get_bool(PN_P(smtpd_delay_open_until_valid_rcpt)) &&
                       submit_open(s, &why) < 0) { /* the queue file at MAIL, not at RCPT */
                pn_warn("cleanup: %s", why.data);
                smtpd_reply(s, "451 4.3.0 Error: queue file write error");
                s->in_mail = 0;
                pn_buf_reset(&s->sender);
                clear_mail_params(s);
            } else {
                s->counts[CMD_MAIL][0]++;
                smtpd_reply(s, "250 2.1.0 Ok");
            }
            pn_buf_release(&why);
        }
    }
    pn_buf_release(&addr);
    pn_buf_release(&reply);
}

static void cmd_rcpt(smtpd_session *s, const char *arg)
{
    pn_buf addr = PN_BUF_INIT, reply = PN_BUF_INIT, why = PN_BUF_INIT, canon = PN_BUF_INIT;
    pn_buf orcpt = PN_BUF_INIT;
    int notify = 0;
    const char *params;
    if (!s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
    } else if (parse_path(arg, "TO:", &addr, &params) < 0) {
        smtpd_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
    } else if (addr.len == 0 || !address_ok(addr.data) || min_user(s, "RCPT", addr.data) ||
               !smtpd_address_resolves(addr.data)) {
        smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
    } else if (smtpd_rcpt_params(params, &notify, &orcpt, &reply) < 0) {
        smtpd_reply(s, "%s", reply.data);
    } else if (smtpd_limit_rcpt(s) < 0) {
        /* too many recipients from this client: said */
    } else if ((long)s->rcpts->len >= pn_config_get_int(PN_P(smtpd_recipient_limit))) {
        smtpd_reply(s, "452 4.5.3 Error: too many recipients");
    } else {
        s->rcpt_attempts++;
        pn_addr_rewrite_local(addr.data, &canon);
        if (smtpd_check_rcpt(s, canon.data, &reply) < 0) {
            smtpd_reply(s, "%s", reply.data);
            if (strncmp(reply.data, "421", 3) == 0 || strncmp(reply.data, "521", 3) == 0)
                s->quit = 1; /* a reply that closes the session (RFC 5321, RFC 7504) */
        } else if (s->queue_id.len == 0 && submit_open(s, &why) < 0) {
            pn_warn("cleanup: %s", why.data);
            smtpd_reply(s, "451 4.3.0 Error: queue file write error");
        } else {
            submit_envelope_rcpt(s, canon.data, pn_buf_str(&orcpt), notify);
            pn_argv_add(s->rcpts, canon.data);
            s->counts[CMD_RCPT][0]++;
            smtpd_reply(s, "250 2.1.5 Ok");
        }
    }
    pn_buf_release(&addr);
    pn_buf_release(&reply);
    pn_buf_release(&why);
    pn_buf_release(&canon);
    pn_buf_release(&orcpt);
}

/* smtpd_etrn: ETRN site, through the flush service. */
static void smtpd_etrn(smtpd_session *s, const char *site)
{
    if (*site == '#' || strspn(site, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-[]:") != strlen(site)) {
        smtpd_reply(s, "501 Error: invalid parameter syntax");
        return;
    }
    pn_buf refusal = PN_BUF_INIT;
    if (smtpd_check_etrn(s, site, &refusal) < 0) {
        smtpd_reply(s, "%s", refusal.data);
        pn_buf_release(&refusal);
        return;
    }
    pn_buf_release(&refusal);
    pn_buf why = PN_BUF_INIT;
    int status = pn_flush_send_site(PN_SVC_FLUSH, site, &why);
    if (status == PN_FLUSH_FAIL)
        pn_warn("flush service: %s", why.data);
    if (status == PN_FLUSH_OK)
        smtpd_reply(s, "250 Queuing started");
    else if (status == PN_FLUSH_DENY)
        smtpd_reply(s, "459 <%s>: service unavailable", site);
    else
        smtpd_reply(s, "458 Unable to queue messages");
    pn_buf_release(&why);
}

static int dispatch(smtpd_session *s, const char *line)
{
    char verb[16];
    size_t n = strcspn(line, " ");
    if (n >= sizeof(verb))
        n = sizeof(verb) - 1;
    memcpy(verb, line, n);
    verb[n] = 0;
    const char *arg = line + strcspn(line, " ");
    while (*arg == ' ')
        arg++;
    static const struct {
        const char *name;
        enum smtpd_cmd cmd;
    } table[] = {{"HELO", CMD_HELO}, {"EHLO", CMD_EHLO}, {"MAIL", CMD_MAIL},
                 {"RCPT", CMD_RCPT}, {"DATA", CMD_DATA}, {"BDAT", CMD_BDAT},
                 {"RSET", CMD_RSET}, {"NOOP", CMD_NOOP}, {"VRFY", CMD_VRFY},
                 {"ETRN", CMD_ETRN}, {"QUIT", CMD_QUIT}, {"STARTTLS", CMD_STARTTLS},
                 {"AUTH", CMD_AUTH}};
    enum smtpd_cmd cmd = CMD_UNKNOWN;
    s->last = "UNKNOWN";
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcasecmp(verb, table[i].name) == 0) {
            cmd = table[i].cmd;
            s->last = table[i].name;
        }
    s->counts[cmd][1]++;
    int errors_before = s->errors;
    if (s->access_denied.len && cmd != CMD_QUIT) { /* the client list refused the client */
        smtpd_reply(s, "%s", s->access_denied.data);
        return 0;
    }
    /* in the middle of a BDAT message: its chunks, or an end to it; questions that touch no
     * state; the reference's replies to the rest */
    if (s->bdat_active && cmd != CMD_BDAT && cmd != CMD_QUIT && cmd != CMD_RSET &&
        cmd != CMD_NOOP && cmd != CMD_VRFY && cmd != CMD_MAIL) {
        if (cmd == CMD_DATA || cmd == CMD_RCPT)
            smtpd_reply(s, "503 5.5.1 Error: %s after BDAT", cmd == CMD_DATA ? "DATA" : "RCPT");
        else
            smtpd_reply(s, "503 5.5.1 Error: BDAT command sequence");
        return 0;
    }
    /* smtpd_tls_security_level = encrypt: no mail and no questions in plain text */
    if (s->tls == NULL && smtpd_tls_level == PN_TLS_ENCRYPT &&
        (cmd == CMD_MAIL || cmd == CMD_RCPT || cmd == CMD_DATA || cmd == CMD_BDAT ||
         cmd == CMD_VRFY || cmd == CMD_ETRN || cmd == CMD_AUTH)) {
        smtpd_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
        return 0;
    }
    switch (cmd) {
    case CMD_HELO: cmd_helo(s, arg, 0); break;
    case CMD_STARTTLS: cmd_starttls(s, arg); break;
    case CMD_EHLO: cmd_helo(s, arg, 1); break;
    case CMD_AUTH: smtpd_cmd_auth(s, arg); break;
    case CMD_MAIL: cmd_mail(s, arg); return 0;
    case CMD_RCPT: cmd_rcpt(s, arg); return 0;
    case CMD_DATA:
        if (*arg)
            smtpd_reply(s, "501 5.5.4 Syntax: DATA");
        else
            smtpd_cmd_data(s);
        return 0;
    case CMD_BDAT: smtpd_cmd_bdat(s, arg); return 0;
    case CMD_RSET:
        smtpd_reset_transaction(s);
        smtpd_reply(s, "250 2.0.0 Ok");
        break;
    case CMD_NOOP: smtpd_reply(s, "250 2.0.0 Ok"); break;
    case CMD_VRFY:
        if (pn_config_get_bool(PN_P(disable_vrfy_command)))
            smtpd_reply(s, "502 5.5.1 VRFY command is disabled");
        else if (*arg == 0)
            smtpd_reply(s, "501 5.5.4 Syntax: VRFY address");
        else
            smtpd_reply(s, "252 2.0.0 %s", arg);
        break;
    case CMD_ETRN:
        if (*arg == 0) {
            smtpd_reply(s, "500 Syntax: ETRN domain");
        } else if (s->in_mail) {
            smtpd_reply(s, "503 Error: MAIL transaction in progress");
        } else {
            smtpd_etrn(s, arg[0] == '@' ? arg + 1 : arg);
        }
        break;
    case CMD_QUIT:
        smtpd_reply(s, "221 2.0.0 Bye");
        s->quit = 1;
        break;
    default: smtpd_reply(s, "500 5.5.2 Error: command not recognized"); break;
    }
    if (s->errors == errors_before)
        s->counts[cmd][0]++;
    return 0;
}

static void log_disconnect(smtpd_session *s)
{
    pn_buf line = PN_BUF_INIT;
    int ok = 0, total = 0;
    pn_buf_printf(&line, "disconnect from %s", s->namaddr.data);
    for (int c = 0; c < CMD_COUNT; c++) {
        if (s->counts[c][1] == 0)
            continue;
        ok += s->counts[c][0];
        total += s->counts[c][1];
        if (s->counts[c][0] == s->counts[c][1])
            pn_buf_printf(&line, " %s=%d", cmd_names[c], s->counts[c][0]);
        else
            pn_buf_printf(&line, " %s=%d/%d", cmd_names[c], s->counts[c][0], s->counts[c][1]);
    }
    if (ok == total && total > 0)
        pn_buf_printf(&line, " commands=%d", ok);
    else
        pn_buf_printf(&line, " commands=%d/%d", ok, total);
    pn_info("%s", line.data);
    pn_buf_release(&line);
}

void smtpd_session_run(smtpd_session *s)
{
    pn_info("connect from %s", s->namaddr.data);
    s->last = "CONNECT";
    /* wrapper mode: TLS first, then the limits' replies inside it */
    if (pn_config_get_bool(PN_P(smtpd_tls_wrappermode)) &&
        (smtpd_start_tls(s) < 0 || s->quit || smtpd_limit_newtls_check(s, 1) < 0)) {
        log_disconnect(s); /* no greeting */
        return;
    }
    if (smtpd_limit_connect(s) < 0) { /* 421 instead of the greeting */
        smtpd_limit_disconnect(s);
        log_disconnect(s);
        return;
    }
    pn_buf refusal = PN_BUF_INIT;
    if (smtpd_check_connect(s, &refusal) < 0) { /* smtpd_delay_reject = no: in its place */
        smtpd_reply(s, "%s", refusal.data);
        pn_buf_printf(&s->access_denied, "503 5.7.0 Error: access denied for %s",
                      s->namaddr.data);
    } else {
        smtpd_reply(s, "220 %s", pn_config_get(PN_P(smtpd_banner)));
    }
    pn_buf_release(&refusal);
    pn_buf line = PN_BUF_INIT;
    long soft = pn_config_get_int(PN_P(smtpd_soft_error_limit));
    long hard = pn_config_get_int(PN_P(smtpd_hard_error_limit));
    const char *host = pn_config_get_hostname(PN_P(myhostname));
    while (!s->quit) {
        /* a reply given before the rest of its command was read (a BDAT chunk) goes out
         * before the wait for the next command */
        if (pn_stream_buffered(s->client) == 0 && pn_stream_flush(s->client) < 0)
            break;
        int rc = pn_stream_get_line(s->client, &line,
                                    (size_t)pn_config_get_int(PN_P(line_length_limit)));
        if (rc == PN_LINE_ERROR) {
            pn_info("timeout after %s from %s", s->last, s->namaddr.data);
            smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", host);
            break;
        }
        if (rc == PN_LINE_EOF || rc == PN_LINE_LAST) {
            pn_info("lost connection after %s from %s", s->last, s->namaddr.data);
            break;
        }
        if (rc == PN_LINE_TOO_LONG) {
            pn_buf rest = PN_BUF_INIT;
            while (pn_stream_get_line(s->client, &rest, 4096) == PN_LINE_TOO_LONG)
                ;
            pn_buf_release(&rest);
            s->counts[CMD_UNKNOWN][1]++;
            smtpd_reply(s, "500 5.5.2 Error: command not recognized");
            continue;
        }
        if (line.len && line.data[line.len - 1] == '\r')
            pn_buf_truncate(&line, line.len - 1);
        /* a command sent before the reply to this one: without EHLO (that offers
         * PIPELINING), or after one that must end a group (RFC 2920); reject_unauth_pipelining
         * refuses the rest of the session */
        int ahead = pn_stream_buffered(s->client) > 0;
        if (ahead && !s->ill_pipelining && (!s->esmtp || ends_group(line.data))) {
            pn_buf early = PN_BUF_INIT; /* what came early, CR and LF shown as \r and \n */
            const char *data;
            size_t len = pn_stream_peek(s->client, &data);
            for (size_t i = 0; i < len && early.len < 100; i++) {
                if (data[i] == '\r' || data[i] == '\n')
                    pn_buf_puts(&early, data[i] == '\r' ? "\\r" : "\\n");
                else
                    pn_buf_putc(&early, data[i]);
            }
            pn_info("improper command pipelining after %.*s from %s: %s",
                    (int)strcspn(line.data, " "), line.data, s->namaddr.data, pn_buf_str(&early));
            pn_buf_release(&early);
            s->ill_pipelining = 1;
        }
        if (pn_config_get_bool(PN_P(smtpd_forbid_unauth_pipelining)) && !s->esmtp && ahead) {
            smtpd_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
            break;
        }
        /* an AUTH line's initial response holds credentials: the transcript keeps the verb
         * and the mechanism */
        size_t shown = line.len;
        if (strncasecmp(line.data, "AUTH ", 5) == 0) {
            shown = 5 + strspn(line.data + 5, " ");
            shown += strcspn(line.data + shown, " ");
        }
        transcript_add(s, "In: ", line.data, shown);
        dispatch(s, line.data);
        if (s->errors >= hard) {
            smtpd_reply(s, "421 4.7.0 %s Error: too many errors", host);
            break;
        }
        if (s->errors > soft)
            sleep((unsigned)pn_config_get_time(PN_P(smtpd_error_sleep_time)));
    }
    pn_buf_release(&line);
    smtpd_reset_transaction(s);
    transcript_send(s);
    smtpd_limit_disconnect(s);
    log_disconnect(s);
}
