/* main.c: pipe, delivery to external commands (master.cf: "flags=... user=... argv=...").
 * Started as root, it checks its arguments, starts a worker spawner restricted to the user=
 * identity (never root, never mail_owner) and becomes mail_owner. Per request it expands the
 * argv macros (an argument naming a recipient macro is repeated per recipient) and has the
 * worker run the command (pipecmd.c); the exit status decides each recipient's fate. */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cfmaster.h"
#include "config/cfparams.h"
#include "ipc/server.h"
#include "mail/addr.h"
#include "mail/agent.h"
#include "mail/mailbox.h"
#include "mail/pipecmd.h"
#include "mail/worker.h"

static struct {
    char *flags;
    uid_t uid;
    gid_t gid;
    pn_argv *argv; /* templates after argv= */
    long size_limit;
    char *eol;
    char *null_sender;
    char *directory;
    pn_worker_pool *workers;
} pipe_conf;

static pn_agent agent;

static const char *const per_rcpt[] = {
    "recipient", "original_recipient", "user", "extension", "mailbox", NULL};

static int policy(uid_t uid, gid_t gid, long extra_gid)
{
    return uid == pipe_conf.uid && gid == pipe_conf.gid && extra_gid == -1 ? 0 : -1;
}

/* unescape: eol=\r\n as written in master.cf */
static char *unescape(const char *text)
{
    pn_buf out = PN_BUF_INIT;
    pn_buf_init(&out);
    for (const char *cp = text; *cp; cp++) {
        if (*cp == '\\' && cp[1] == 'r')
            pn_buf_putc(&out, '\r'), cp++;
        else if (*cp == '\\' && cp[1] == 'n')
            pn_buf_putc(&out, '\n'), cp++;
        else
            pn_buf_putc(&out, *cp);
    }
    return pn_buf_steal(&out);
}

static void parse_args(int argc, char **argv)
{
    pipe_conf.flags = strdup("");
    pipe_conf.eol = strdup("\n");
    pipe_conf.null_sender = strdup("MAILER-DAEMON");
    pipe_conf.directory = strdup("");
    const char *user = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (pn_has_prefix(a, "flags=")) {
            free(pipe_conf.flags);
            pipe_conf.flags = strdup(a + 6);
        } else if (pn_has_prefix(a, "user=")) {
            user = a + 5;
        } else if (pn_has_prefix(a, "size=")) {
            pipe_conf.size_limit = atol(a + 5);
        } else if (pn_has_prefix(a, "eol=")) {
            free(pipe_conf.eol);
            pipe_conf.eol = unescape(a + 4);
        } else if (pn_has_prefix(a, "null_sender=")) {
            free(pipe_conf.null_sender);
            pipe_conf.null_sender = strdup(a + 12);
        } else if (pn_has_prefix(a, "directory=")) {
            free(pipe_conf.directory);
            pipe_conf.directory = strdup(a + 10);
        } else if (pn_has_prefix(a, "chroot=")) {
            pn_warn("pipe: chroot= is not supported, ignored");
        } else if (pn_has_prefix(a, "argv=")) {
            pipe_conf.argv = pn_argv_new();
            if (a[5])
                pn_argv_add(pipe_conf.argv, a + 5);
            for (i++; i < argc; i++)
                pn_argv_add(pipe_conf.argv, argv[i]);
        } else {
            pn_fatal("pipe: unknown argument \"%s\"", a);
        }
    }
    if (pipe_conf.argv == NULL || pipe_conf.argv->len == 0)
        pn_fatal("pipe: missing argv= command");
    if (user == NULL)
        pn_fatal("pipe: missing user= attribute");
    char *copy = strdup(user), *group = strchr(copy, ':');
    if (group)
        *group++ = 0;
    struct passwd *pw = getpwnam(copy);
    if (pw == NULL)
        pn_fatal("pipe: user= %s: unknown user", copy);
    pipe_conf.uid = pw->pw_uid;
    pipe_conf.gid = pw->pw_gid;
    if (group) {
        struct group *gr = getgrnam(group);
        if (gr == NULL)
            pn_fatal("pipe: user= %s: unknown group", user);
        pipe_conf.gid = gr->gr_gid;
    }
    struct passwd *owner = getpwnam(pn_config_get(PN_P(mail_owner)));
    if (pipe_conf.uid == 0 || (owner && owner->pw_uid == pipe_conf.uid))
        pn_fatal("pipe: user= %s: the command must not run as root or as mail_owner", user);
    /* nor with a group that opens the mail system: root's, mail_owner's (the queue) or
     * setgid_group's (maildrop/, public/) */
    struct group *setgid = getgrnam(pn_config_get(PN_P(setgid_group)));
    if (pipe_conf.gid == 0 || (owner && owner->pw_gid == pipe_conf.gid) ||
        (setgid && setgid->gr_gid == pipe_conf.gid))
        pn_fatal("pipe: user= %s: the command must not run with group id %ld (root's, "
                 "mail_owner's or setgid_group's)",
                 user, (long)pipe_conf.gid);
    free(copy);
}

/* value: the macro's value for one recipient (r may be NULL for message-wide macros). */
static void value(const char *name, const pn_delivreq *req, const pn_delivreq_rcpt *r,
                  const pn_qfile *q, pn_buf *out)
{
    const char *f = pipe_conf.flags;
    pn_buf local = PN_BUF_INIT, tmp = PN_BUF_INIT;
    const char *addr =
        r ? (strcmp(name, "original_recipient") == 0 ? r->orig.data : r->addr.data) : "";
    pn_buf_reset(out);
    if (strcmp(name, "sender") == 0 && req->sender.len && strchr(f, 'q')) {
        const char *at = pn_addr_at(req->sender.data);
        pn_addr_localpart(req->sender.data, &local);
        pn_addr_quote_local(local.data, out);
        if (at)
            pn_buf_puts(out, at);
    } else if (strcmp(name, "sender") == 0) {
        pn_buf_puts(out, req->sender.len ? req->sender.data : pipe_conf.null_sender);
    } else if (strcmp(name, "nexthop") == 0) {
        pn_buf_puts(out, req->nexthop.data);
        if (strchr(f, 'h'))
            pn_lowercase(out->data);
    } else if (strcmp(name, "queue_id") == 0) {
        pn_buf_puts(out, req->queue_id.data);
    } else if (strcmp(name, "size") == 0) {
        pn_buf_printf(out, "%llu", (unsigned long long)q->content_len);
    } else if (pn_has_prefix(name, "client_") || pn_has_prefix(name, "sasl_")) {
        static const char *const map[][2] = {{"client_address", "client_addr"},
                                             {"client_hostname", "client_name"},
                                             {"client_protocol", "client_proto"}};
        const char *attr = name;
        for (size_t i = 0; i < 3; i++)
            if (strcmp(name, map[i][0]) == 0)
                attr = map[i][1];
        if (pn_qfile_attr(q, attr, &tmp))
            pn_buf_puts(out, tmp.data);
    } else if (r) {
        pn_addr_localpart(addr, &local);
        if (strchr(f, 'u'))
            pn_lowercase(local.data);
        pn_buf domain = PN_BUF_INIT;
        pn_addr_domain(addr, &domain);
        if (!strchr(f, 'h')) {
            const char *at = pn_addr_at(addr);
            pn_buf_set(&domain, at ? at + 1 : "");
        }
        const char *delims = pn_config_get(PN_P(recipient_delimiter));
        size_t base = *delims ? strcspn(local.data, delims) : local.len;
        if (strcmp(name, "recipient") == 0 || strcmp(name, "original_recipient") == 0) {
            if (strchr(f, 'q'))
                pn_addr_quote_local(local.data, out);
            else
                pn_buf_puts(out, local.data);
            if (domain.len)
                pn_buf_printf(out, "@%s", domain.data);
        } else if (strcmp(name, "user") == 0) {
            pn_buf_append(out, local.data, base);
        } else if (strcmp(name, "extension") == 0) {
            if (base < local.len)
                pn_buf_puts(out, local.data + base + 1);
        } else if (strcmp(name, "mailbox") == 0) {
            pn_buf_puts(out, local.data);
        } else if (strcmp(name, "domain") == 0) {
            pn_buf_puts(out, domain.data);
        }
        pn_buf_release(&domain);
    }
    pn_buf_release(&local);
    pn_buf_release(&tmp);
}

/* expand: one argument template for one recipient (or none). */
static void expand(const char *tmpl, const pn_delivreq *req, const pn_delivreq_rcpt *r,
                   const pn_qfile *q, pn_buf *out)
{
    pn_buf name = PN_BUF_INIT, val = PN_BUF_INIT;
    pn_buf_reset(out);
    for (const char *cp = tmpl; *cp; cp++) {
        if (*cp != '$') {
            pn_buf_putc(out, *cp);
            continue;
        }
        if (cp[1] == '$') {
            pn_buf_putc(out, '$');
            cp++;
            continue;
        }
        const char *start = cp + 1, *end;
        char close = 0;
        if (*start == '{' || *start == '(') {
            close = *start == '{' ? '}' : ')';
            start++;
        }
        end = start;
        while (isalnum((unsigned char)*end) || *end == '_')
            end++;
        if (end == start || (close && *end != close)) {
            pn_buf_putc(out, '$');
            continue;
        }
        pn_buf_reset(&name);
        pn_buf_append(&name, start, (size_t)(end - start));
        value(name.data, req, r, q, &val);
        pn_buf_append(out, val.data, val.len);
        cp = close ? end : end - 1;
    }
    pn_buf_release(&name);
    pn_buf_release(&val);
}

static int names_recipient(const char *tmpl)
{
    for (int i = 0; per_rcpt[i]; i++)
        if (strstr(tmpl, per_rcpt[i]))
            return 1;
    return 0;
}

static void deliver_all(const pn_delivreq *req, const pn_qfile *q, int *outcomes, pn_buf *dsns,
                        pn_buf *texts, pn_buf *relays, void *ctx)
{
    (void)ctx;
    (void)relays; /* always this service */
    pn_buf dsn = PN_BUF_INIT, text = PN_BUF_INIT, arg = PN_BUF_INIT;
    int outcome;
    if (pipe_conf.size_limit > 0 && (long)q->content_len > pipe_conf.size_limit) {
        pn_buf_set(&dsn, "5.2.3");
        pn_buf_set(&text, "message too large");
        outcome = PN_DELIVER_BOUNCED;
    } else {
        pn_pipe_job job;
        memset(&job, 0, sizeof(job));
        job.argv = pn_argv_new();
        for (size_t i = 0; i < pipe_conf.argv->len; i++) {
            const char *tmpl = pipe_conf.argv->items[i];
            if (names_recipient(tmpl)) {
                for (size_t j = 0; j < req->rcpt_count; j++) {
                    expand(tmpl, req, &req->rcpts[j], q, &arg);
                    pn_argv_add(job.argv, arg.data);
                }
            } else {
                expand(tmpl, req, NULL, q, &arg);
                pn_argv_add(job.argv, arg.data);
            }
        }
        job.flags = pipe_conf.flags;
        job.sender = req->sender.data;
        if (req->rcpt_count == 1) {
            job.recipient = req->rcpts[0].addr.data;
            job.orig = req->rcpts[0].orig.data;
        }
        job.directory = pipe_conf.directory;
        job.eol = pipe_conf.eol;
        pn_buf limit_name = PN_BUF_INIT;
        pn_buf_printf(&limit_name, "%s_time_limit", pn_config_get(PN_P(service_name)));
        job.time_limit = pn_param_find(limit_name.data)
                             ? pn_config_get_time(limit_name.data)
                             : pn_config_get_time(PN_P(command_time_limit));
        pn_buf_release(&limit_name);
        int rc = pn_worker_pipe(pipe_conf.workers, pipe_conf.uid, pipe_conf.gid, q->fd, &job, &dsn,
                                &text);
        pn_argv_free(job.argv);
        outcome = rc == MAILBOX_SENT     ? PN_DELIVER_SENT
                  : rc == MAILBOX_BOUNCE ? PN_DELIVER_BOUNCED
                                         : PN_DELIVER_DEFERRED;
        if (outcome == PN_DELIVER_SENT) {
            pn_buf done = PN_BUF_INIT;
            pn_buf_printf(&done, "delivered via %s service", pn_config_get(PN_P(service_name)));
            if (text.len)
                pn_buf_printf(&done, " (%s)", text.data);
            pn_buf_set(&text, done.data);
            pn_buf_release(&done);
        }
    }
    /* without X the command is not the final destination: a success notice says "relayed" */
    if (outcome == PN_DELIVER_SENT && strchr(pipe_conf.flags, 'X') == NULL)
        outcome |= PN_DELIVER_RELAYED;
    for (size_t i = 0; i < req->rcpt_count; i++) {
        outcomes[i] = outcome;
        pn_buf_set(&dsns[i], dsn.data);
        pn_buf_set(&texts[i], text.data);
    }
    pn_buf_release(&dsn);
    pn_buf_release(&text);
    pn_buf_release(&arg);
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    pn_agent_serve(fd, &agent);
}

static void pre_jail(void *ctx)
{
    pn_server *server = ctx;
    pn_buf err = PN_BUF_INIT;
    if (pn_master_learn_services(&err) < 0)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    parse_args(server->argc, server->argv);
    agent.relay = pn_config_get(PN_P(service_name));
    agent.needs_content = 1;
    agent.deliver_all = deliver_all;
    pipe_conf.workers = pn_worker_pool_start(policy);
    pn_agent_drop_privileges();
}

static int must_retire(void *ctx)
{
    (void)ctx;
    return pn_worker_pool_broken(pipe_conf.workers);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .per_request = 1,
                               .pre_jail = pre_jail,
                               .must_retire = must_retire,
                               .max_use = -1,
                               .max_idle = -1,
                               .process_limit = -1,
                               .needs_root = 1};
    server.ctx = &server;
    return pn_single_server_main(argc, argv, &server);
}
