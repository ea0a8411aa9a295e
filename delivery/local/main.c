/* main.c: local, the delivery agent for the local domains (private/local). Started as root,
 * it opens alias_maps, starts its worker spawner and becomes mail_owner. A recipient's local
 * part goes through alias_maps (names, addresses, "|command", "/file", ":include:/file"),
 * then the user's forward_path files, then the mailbox, in the reference's order:
 * mailbox_transport (the maps first: the recipient goes to that transport's agent), the user's
 * mailbox_command_maps entry, mailbox_command, home_mailbox (a Maildir when it ends in '/'),
 * or mail_spool_directory. Every file a user controls is read, and every mailbox written, by the
 * kept worker of that user; alias commands and files run as default_privs. Commands run
 * through local_command_shell (or /bin/sh when they need a shell) in a reset environment
 * (HOME, USER, EXTENSION, RECIPIENT, SENDER, ... filtered by command_expansion_filter).
 * Forwarded mail goes back through cleanup; a list with an owner-list alias is forwarded
 * with that owner as sender. The same mailbox, file, command or address gets one delivery
 * per recipient (duplicate_filter_limit). A user the system does not know goes to
 * fallback_transport, else luser_relay. */
#include <errno.h>
#include <stdio.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cfexpand.h"
#include "config/cfparams.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/addr.h"
#include "mail/agent.h"
#include "mail/cleanupclnt.h"
#include "mail/delegate.h"
#include "mail/domlist.h"
#include "mail/mailbox.h"
#include "mail/maps.h"
#include "mail/pipecmd.h"
#include "mail/worker.h"

#define MAX_DEPTH 20

static pn_maps *alias_maps;
static pn_maps *command_maps;   /* mailbox_command_maps */
static pn_maps *transport_maps; /* mailbox_transport_maps */
static pn_maps *fallback_maps;  /* fallback_transport_maps */
static pn_worker_pool *workers;
static pn_domlist *local_domains;
static pn_cleanup_client *cleanup;

struct delivery {
    const pn_delivreq *req;
    const pn_delivreq_rcpt *rcpt;
    const pn_qfile *q;
    int outcome; /* the worst so far */
    char dsn[16];
    pn_buf *text;
    pn_argv *seen;      /* alias names expanded so far: no loops */
    int delegated;      /* -1, or the outcome the agent of mailbox_transport reported */
    const char *sender; /* the envelope sender, or the owner of the list being expanded */
    int owned;          /* expanding a list with an owner: addresses are forwarded */
    pn_argv *done;      /* mailboxes, files, commands and addresses delivered to */
};

/* The recipient's $names, for forward_path, command_execution_directory and luser_relay, and
 * (upper-cased) the environment of commands. user, home and shell are NULL for an alias. */
enum { N_USER, N_HOME, N_SHELL, N_RECIPIENT, N_EXTENSION, N_DOMAIN, N_LOCAL, N_DELIM, N_COUNT };
static const char *const name_keys[N_COUNT] = {
    "user", "home", "shell", "recipient", "extension", "domain", "local", "recipient_delimiter"};

struct names {
    const char *values[N_COUNT];
    pn_buf storage[4]; /* recipient, local, domain, delimiter */
};

static void names_init(struct names *n, const char *recipient, const struct passwd *pw)
{
    for (int i = 0; i < 4; i++)
        pn_buf_init(&n->storage[i]);
    pn_buf *addr = &n->storage[0], *local = &n->storage[1], *domain = &n->storage[2];
    pn_buf_set(addr, recipient);
    pn_addr_localpart(recipient, local);
    pn_addr_domain(recipient, domain);
    size_t base = pn_addr_extension_at(local->data, pn_config_get(PN_P(recipient_delimiter)));
    pn_buf_reset(&n->storage[3]);
    if (base < local->len)
        pn_buf_append(&n->storage[3], local->data + base, 1);
    n->values[N_USER] = pw ? pw->pw_name : NULL;
    n->values[N_HOME] = pw ? pw->pw_dir : NULL;
    n->values[N_SHELL] = pw ? pw->pw_shell : NULL;
    n->values[N_RECIPIENT] = addr->data;
    n->values[N_EXTENSION] = base < local->len ? local->data + base + 1 : "";
    n->values[N_DOMAIN] = domain->data;
    n->values[N_LOCAL] = local->data;
    n->values[N_DELIM] = n->storage[3].data;
}

static void names_release(struct names *n)
{
    for (int i = 0; i < 4; i++)
        pn_buf_release(&n->storage[i]);
}

/* filter: a copy of value with each character outside allowed replaced by '_'. */
static void filter(const char *value, const char *allowed, pn_buf *out)
{
    pn_buf_set(out, value);
    for (char *cp = out->data; *cp; cp++)
        if (strchr(allowed, *cp) == NULL)
            *cp = '_';
}

struct filtered_names {
    const struct names *names;
    const char *allowed; /* NULL: values as they are */
    pn_buf value;
};

static const char *names_lookup(const char *name, void *ctx)
{
    struct filtered_names *fn = ctx;
    for (int i = 0; i < N_COUNT; i++) {
        if (strcmp(name_keys[i], name) != 0)
            continue;
        if (fn->names->values[i] == NULL || fn->allowed == NULL)
            return fn->names->values[i];
        filter(fn->names->values[i], fn->allowed, &fn->value);
        return fn->value.data;
    }
    return NULL;
}

/* names_expand: template with the recipient's $names (and the ${name?...} forms), each value
 * filtered through the characters of the parameter allowed (NULL: unfiltered). */
static int names_expand(const struct names *n, const char *template, const char *allowed,
                        pn_buf *out, pn_buf *err)
{
    struct filtered_names fn = {n, allowed ? pn_config_get(allowed) : NULL, PN_BUF_INIT};
    pn_expand_ctx ec = {names_lookup, NULL, &fn, 0, NULL};
    pn_buf_reset(out);
    int rc = pn_expand(&ec, template, out, err);
    pn_buf_release(&fn.value);
    return rc;
}

/* first_time: the delivery target has not been delivered to for this recipient (the
 * duplicate filter remembers duplicate_filter_limit targets). */
static int first_time(struct delivery *d, const char *kind, const char *target)
{
    pn_buf key = PN_BUF_INIT;
    pn_buf_printf(&key, "%s:%s", kind, target);
    int seen = 0;
    for (size_t i = 0; i < d->done->len && !seen; i++)
        seen = strcmp(d->done->items[i], key.data) == 0;
    if (!seen && d->done->len < (size_t)pn_config_get_int(PN_P(duplicate_filter_limit)))
        pn_argv_add(d->done, key.data);
    pn_buf_release(&key);
    return !seen;
}

static void record(struct delivery *d, int outcome, const char *dsn, const char *text)
{
    /* deferred beats bounced beats sent: a deferral retries the whole recipient */
    int rank[] = {0, 2, 1};
    if (d->text->len == 0 || rank[outcome] > rank[d->outcome]) {
        d->outcome = outcome;
        snprintf(d->dsn, sizeof(d->dsn), "%s", dsn);
        pn_buf_set(d->text, text);
    }
}

/* read_as: a small file as the given identity reads it; 1, 0 absent, -1 error,
 * PN_WORKER_READ_REFUSED (the reason in out). */
static int read_as(uid_t uid, gid_t gid, const char *path, pn_buf *out)
{
    return pn_worker_read(workers, uid, gid, path, out);
}

/* policy: local never delivers as root; root's mail runs as default_privs. */
/* the group of mail_spool_directory, the only supplementary group a worker may have (to
 * write a mailbox there); read at start */
static long spool_gid = -1;

static int policy(uid_t uid, gid_t gid, long extra_gid)
{
    (void)gid;
    return uid != 0 && (extra_gid == -1 || extra_gid == spool_gid) ? 0 : -1;
}

static void default_privs(uid_t *uid, gid_t *gid)
{
    struct passwd *pw = getpwnam(pn_config_get(PN_P(default_privs)));
    *uid = pw ? pw->pw_uid : 65534;
    *gid = pw ? pw->pw_gid : 65534;
}

/* command_argv: local_command_shell and the command, or /bin/sh -c when the command needs a
 * shell, or the command's own words. */
static pn_argv *command_argv(const char *command)
{
    const char *shell = pn_config_get(PN_P(local_command_shell));
    pn_argv *argv;
    if (*shell) {
        argv = pn_argv_split(shell, " \t");
    } else if (command[strcspn(command, "\"'`\\$;&|<>()[]{}*?~#=%!^\n\r")]) {
        argv = pn_argv_new();
        pn_argv_add(argv, "/bin/sh");
        pn_argv_add(argv, "-c");
    } else {
        return pn_argv_split(command, " \t");
    }
    pn_argv_add(argv, command);
    return argv;
}

/* command_env: the command's environment, each value filtered by command_expansion_filter. */
static pn_argv *command_env(struct delivery *d, const struct names *n)
{
    static const struct {
        const char *name;
        int key;
    } from_names[] = {{"HOME", N_HOME},           {"USER", N_USER},          {"LOGNAME", N_USER},
                      {"SHELL", N_SHELL},         {"LOCAL", N_LOCAL},        {"DOMAIN", N_DOMAIN},
                      {"EXTENSION", N_EXTENSION}, {"RECIPIENT", N_RECIPIENT}};
    static const char *const from_queue[][2] = {{"CLIENT_ADDRESS", "client_addr"},
                                                {"CLIENT_HOSTNAME", "client_name"},
                                                {"CLIENT_HELO", "client_helo"},
                                                {"CLIENT_PROTOCOL", "client_proto"}};
    const char *allowed = pn_config_get(PN_P(command_expansion_filter));
    pn_argv *env = pn_argv_new();
    pn_buf value = PN_BUF_INIT, item = PN_BUF_INIT;
    for (size_t i = 0; i < sizeof(from_names) / sizeof(from_names[0]); i++) {
        if (n->values[from_names[i].key] == NULL)
            continue;
        filter(n->values[from_names[i].key], allowed, &value);
        pn_buf_reset(&item);
        pn_buf_printf(&item, "%s=%s", from_names[i].name, value.data);
        pn_argv_add(env, item.data);
    }
    const char *more[][2] = {
        {"SENDER", d->sender},
        {"ORIGINAL_RECIPIENT", d->rcpt->orig.len ? d->rcpt->orig.data : d->rcpt->addr.data}};
    for (size_t i = 0; i < 2; i++) {
        filter(more[i][1], allowed, &value);
        pn_buf_reset(&item);
        pn_buf_printf(&item, "%s=%s", more[i][0], value.data);
        pn_argv_add(env, item.data);
    }
    pn_buf attr = PN_BUF_INIT;
    for (size_t i = 0; i < sizeof(from_queue) / sizeof(from_queue[0]); i++) {
        if (pn_qfile_attr(d->q, from_queue[i][1], &attr) == NULL)
            continue;
        filter(attr.data, allowed, &value);
        pn_buf_reset(&item);
        pn_buf_printf(&item, "%s=%s", from_queue[i][0], value.data);
        pn_argv_add(env, item.data);
    }
    pn_buf_release(&attr);
    pn_buf_release(&value);
    pn_buf_release(&item);
    return env;
}

/* run_command: "|command" as uid/gid, with the message on its standard input. */
static void run_command(struct delivery *d, const char *command, uid_t uid, gid_t gid,
                        const struct names *n)
{
    pn_buf dir = PN_BUF_INIT, err = PN_BUF_INIT, dsn = PN_BUF_INIT, text = PN_BUF_INIT;
    if (names_expand(n, pn_config_raw(PN_P(command_execution_directory)),
                     PN_P(execution_directory_expansion_filter), &dir, &err) < 0) {
        pn_buf_printf(&text, "command_execution_directory: %s", err.data);
        record(d, PN_DELIVER_DEFERRED, "4.3.5", text.data);
        goto out;
    }
    pn_pipe_job job = {
        .argv = command_argv(command),
        .flags = pn_config_get_bool(PN_P(enable_original_recipient)) ? "FROD" : "FRD",
        .sender = d->sender,
        .recipient = d->rcpt->addr.data,
        .orig = d->rcpt->orig.len ? d->rcpt->orig.data : NULL,
        .directory = pn_trim(dir.data),
        .eol = "\n",
        .time_limit = pn_config_get_time(PN_P(command_time_limit)),
        .label = command,
        .loop_check = 1,
    };
    pn_argv *env = command_env(d, n);
    job.env = env;
    int rc = job.argv->len ? pn_worker_pipe(workers, uid, gid, d->q->fd, &job, &dsn, &text)
                           : MAILBOX_BOUNCE;
    if (job.argv->len == 0)
        pn_buf_set(&dsn, "5.3.0");
    if (rc == MAILBOX_SENT) {
        pn_buf_reset(&text);
        pn_buf_printf(&text, "delivered to command: %s", command);
    }
    record(d,
           rc == MAILBOX_SENT     ? PN_DELIVER_SENT
           : rc == MAILBOX_BOUNCE ? PN_DELIVER_BOUNCED
                                  : PN_DELIVER_DEFERRED,
           pn_buf_str(&dsn), pn_buf_str(&text));
    pn_argv_free(job.argv);
    pn_argv_free(env);
out:
    pn_buf_release(&dir);
    pn_buf_release(&err);
    pn_buf_release(&dsn);
    pn_buf_release(&text);
}

/* deliver_to: path is a command ("|..."), the user's own mailbox (mailbox set) or a file. */
static void deliver_to(struct delivery *d, const char *path, uid_t uid, gid_t gid, long extra,
                       int mailbox, const struct names *n)
{
    if (!first_time(d, mailbox ? "mailbox" : path[0] == '|' ? "command" : "file", path))
        return;
    pn_buf text = PN_BUF_INIT;
    if (d->req->flags & PN_DELIVREQ_VERIFY) { /* sendmail -bv: where it would go, no more */
        size_t len = strlen(path);
        if (path[0] == '|')
            pn_buf_printf(&text, "delivers to command: %s", path + 1);
        else if (mailbox)
            pn_buf_printf(&text, "delivers to %s", path[len - 1] == '/' ? "maildir" : "mailbox");
        else
            pn_buf_printf(&text, "delivers to file: %s", path);
        record(d, PN_DELIVER_SENT, "2.0.0", text.data);
        pn_buf_release(&text);
        return;
    }
    if (path[0] == '|') {
        run_command(d, path + 1, uid, gid, n);
        return;
    }
    static pn_buf dsn = PN_BUF_INIT;
    pn_buf_reset(&dsn);
    size_t len = strlen(path);
    pn_mailbox_job job = {path,
                          d->sender,
                          d->rcpt->addr.data,
                          d->rcpt->orig.data,
                          pn_config_get_int(PN_P(mailbox_size_limit)),
                          mailbox && path[len - 1] != '/' &&
                              pn_config_get_bool(PN_P(strict_mailbox_ownership)),
                          pn_config_get(PN_P(mailbox_delivery_lock)),
                          !mailbox};
    int rc = pn_worker_deliver(workers, uid, gid, extra, d->q->fd, &job, &text, &dsn);
    if (rc == MAILBOX_SENT && !mailbox) {
        pn_buf_reset(&text);
        pn_buf_printf(&text, "delivered to file: %s", path);
    }
    record(d,
           rc == MAILBOX_SENT     ? PN_DELIVER_SENT
           : rc == MAILBOX_BOUNCE ? PN_DELIVER_BOUNCED
                                  : PN_DELIVER_DEFERRED,
           pn_buf_str(&dsn), pn_buf_str(&text));
    pn_buf_release(&text);
}

static void forward(struct delivery *d, const char *addr)
{
    if (!first_time(d, "address", addr))
        return;
    pn_buf id = PN_BUF_INIT, why = PN_BUF_INIT, content = PN_BUF_INIT, field = PN_BUF_INIT;
    int status = -1;
    if (d->req->flags & PN_DELIVREQ_VERIFY) {
        pn_buf_printf(&why, "aliased to %s", addr);
        record(d, PN_DELIVER_SENT, "2.0.0", why.data);
        pn_buf_release(&why);
        return;
    }
    if (cleanup == NULL)
        cleanup = pn_cleanup_client_new(PN_SVC_CLEANUP);
    pn_buf_printf(&field, "Delivered-To: %s", d->rcpt->addr.data);
    if (pn_qfile_read_content(d->q, &content, &why) == 0)
        status = pn_cleanup_submit(cleanup, d->sender, addr, field.data, content.data, content.len,
                                   &id, &why);
    pn_buf text = PN_BUF_INIT;
    if (status == 0) {
        pn_buf_printf(&text, "forwarded as %s", id.data);
        record(d, PN_DELIVER_SENT, "2.0.0", text.data);
    } else {
        pn_buf_printf(&text, "cannot forward to %s: %s", addr, why.data);
        record(d, PN_DELIVER_DEFERRED, "4.3.0", text.data);
    }
    pn_buf_release(&text);
    pn_buf_release(&id);
    pn_buf_release(&why);
    pn_buf_release(&content);
    pn_buf_release(&field);
}

static void deliver_user(struct delivery *d, const char *name, int depth, int skip_forward);
static void expand_name(struct delivery *d, const char *name, int depth);

/* transport_for: the mailbox_transport or fallback_transport for user (the maps first, with
 * the address user@domain of the recipient); "" when none, NULL on a table error. */
static const char *transport_for(struct delivery *d, pn_maps *maps, const char *param,
                                 const char *user, pn_buf *value)
{
    pn_buf addr = PN_BUF_INIT, domain = PN_BUF_INIT;
    pn_addr_domain(d->rcpt->addr.data, &domain);
    pn_buf_printf(&addr, "%s@%s", user, domain.data);
    int rc = maps->count
                 ? pn_maps_find_addr(maps, addr.data, pn_config_get(PN_P(recipient_delimiter)),
                                     PN_MAPS_LOCALPART, value)
                 : 0;
    pn_buf_release(&addr);
    pn_buf_release(&domain);
    if (rc < 0)
        return NULL;
    if (rc > 0 && strcasecmp(value->data, "DUNNO") != 0)
        return value->data;
    return pn_config_get(param);
}

/* hand_over: the recipient goes to the agent of transport (mailbox_transport,
 * fallback_transport). The recipient itself is passed when it reached this user directly;
 * an alias's target goes back through the queue as user@domain, to arrive here directly. */
static void hand_over(struct delivery *d, const char *transport, const char *user, int depth)
{
    if (depth > 0) {
        pn_buf addr = PN_BUF_INIT, domain = PN_BUF_INIT;
        pn_addr_domain(d->rcpt->addr.data, &domain);
        pn_buf_printf(&addr, "%s@%s", user, domain.data);
        forward(d, addr.data);
        pn_buf_release(&addr);
        pn_buf_release(&domain);
        return;
    }
    int deferred = 0;
    pn_buf why = PN_BUF_INIT;
    if (pn_delegate(transport, d->req, d->rcpt, &deferred, &why) < 0) {
        pn_buf text = PN_BUF_INIT;
        pn_buf_printf(&text, "mail transport unavailable: %s", why.data);
        record(d, PN_DELIVER_DEFERRED, "4.3.0", text.data);
        pn_buf_release(&text);
    } else {
        d->delegated = deferred ? PN_DELIVER_DEFERRED : PN_DELIVER_SENT;
        record(d, PN_DELIVER_SENT, "2.0.0", "delegated");
    }
    pn_buf_release(&why);
}

/* luser_relay: mail for a user this system does not know goes to the luser_relay address,
 * with $user, $extension, $local, $domain, $recipient and $recipient_delimiter (and the
 * ${name?...} forms) expanded; its $names are these, not main.cf's. */
static void luser_relay(struct delivery *d, const char *name)
{
    struct names n;
    names_init(&n, d->rcpt->addr.data, NULL);
    n.values[N_USER] = name;
    pn_buf out = PN_BUF_INIT, err = PN_BUF_INIT;
    if (names_expand(&n, pn_config_raw(PN_P(luser_relay)), NULL, &out, &err) < 0) {
        pn_buf text = PN_BUF_INIT;
        pn_buf_printf(&text, "luser_relay: %s", err.data);
        record(d, PN_DELIVER_DEFERRED, "4.3.5", text.data);
        pn_buf_release(&text);
    } else {
        forward(d, out.data);
    }
    names_release(&n);
    pn_buf_release(&out);
    pn_buf_release(&err);
}

/* Where an alias item comes from, as allow_mail_to_commands and allow_mail_to_files name it. */
static const char *const origin_names[] = {"alias", "forward", "include"};
enum item_origin { FROM_ALIAS, FROM_FORWARD, FROM_INCLUDE };

/* allowed: may an item from origin deliver to a command (or a file)? */
static int allowed(struct delivery *d, int command, enum item_origin origin)
{
    if (pn_config_list_has(command ? PN_P(allow_mail_to_commands) : PN_P(allow_mail_to_files),
                           origin_names[origin]))
        return 1;
    record(d, PN_DELIVER_BOUNCED, "5.7.1",
           command ? "mail to command is restricted" : "mail to file is restricted");
    return 0;
}

/* items: one alias or .forward value, with the identity that runs its commands and files and
 * the $names of its commands. self is the alias or user whose value this is. */
static void items(struct delivery *d, const char *value, uid_t uid, gid_t gid, int depth,
                  const char *self, enum item_origin origin, const struct names *n)
{
    pn_argv *list = pn_argv_split(value, ",\n");
    for (size_t i = 0; i < list->len; i++) {
        char *item = pn_trim(list->items[i]);
        size_t len = strlen(item);
        if (len >= 2 && item[0] == '"' && item[len - 1] == '"') {
            item[len - 1] = 0;
            item++;
        }
        if (*item == 0 || *item == '#')
            continue;
        if (item[0] == '|') {
            if (allowed(d, 1, origin))
                deliver_to(d, item, uid, gid, -1, 0, n);
        } else if (item[0] == '/') {
            if (allowed(d, 0, origin))
                deliver_to(d, item, uid, gid, -1, 0, n);
        } else if (strncasecmp(item, ":include:", 9) == 0) {
            pn_buf text = PN_BUF_INIT;
            int rc = read_as(uid, gid, item + 9, &text);
            if (rc > 0 && depth < MAX_DEPTH) {
                items(d, text.data, uid, gid, depth + 1, self, FROM_INCLUDE, n);
            } else if (rc == PN_WORKER_READ_REFUSED) {
                pn_buf why = PN_BUF_INIT;
                pn_warn("include file %s: %s: not used", item + 9, text.data);
                pn_buf_printf(&why, "cannot use include file %s: %s", item + 9, text.data);
                record(d, PN_DELIVER_DEFERRED, "4.3.5", why.data);
                pn_buf_release(&why);
            } else {
                record(d, rc == 0 ? PN_DELIVER_BOUNCED : PN_DELIVER_DEFERRED, "5.3.5",
                       "cannot open include file");
            }
            pn_buf_release(&text);
        } else if (item[0] == '\\') {
            deliver_user(d, item + 1, depth + 1, 1);
        } else {
            pn_buf domain = PN_BUF_INIT, local = PN_BUF_INIT;
            pn_addr_domain(item, &domain);
            pn_addr_localpart(item, &local);
            pn_lowercase(local.data);
            if (domain.len && pn_domlist_match(local_domains, domain.data) <= 0) {
                forward(d, item);
            } else if (self && strcmp(local.data, self) == 0) {
                deliver_user(d, local.data, depth + 1, 1); /* "lucas: lucas" */
            } else if (d->owned) {
                pn_buf addr = PN_BUF_INIT; /* a new message, with the list's owner as sender */
                pn_addr_rewrite_local(item, &addr);
                forward(d, addr.data);
                pn_buf_release(&addr);
            } else {
                expand_name(d, local.data, depth + 1);
            }
            pn_buf_release(&domain);
            pn_buf_release(&local);
        }
    }
    pn_argv_free(list);
}

/* forward_file: the first of the user's forward_path files that exists and is not empty;
 * 1 when its items were delivered to. */
static int forward_file(struct delivery *d, const struct names *n, uid_t uid, gid_t gid, int depth)
{
    pn_buf expanded = PN_BUF_INIT, err = PN_BUF_INIT, text = PN_BUF_INIT;
    int done = 0;
    if (names_expand(n, pn_config_raw(PN_P(forward_path)), PN_P(forward_expansion_filter),
                     &expanded, &err) < 0) {
        pn_buf_printf(&text, "forward_path: %s", err.data);
        record(d, PN_DELIVER_DEFERRED, "4.3.5", text.data);
        done = 1;
    }
    pn_argv *paths = done ? pn_argv_new() : pn_argv_split(expanded.data, ", \t\n");
    for (size_t i = 0; i < paths->len && !done; i++) {
        pn_buf_reset(&text);
        int rc = read_as(uid, gid, paths->items[i], &text);
        if (rc == PN_WORKER_READ_REFUSED) /* as if absent: the mail goes to the mailbox */
            pn_warn("forward file %s: %s: not used", paths->items[i], text.data);
        if (rc > 0 && *pn_trim(text.data)) {
            items(d, text.data, uid, gid, depth + 1, n->values[N_USER], FROM_FORWARD, n);
            done = 1;
        }
    }
    pn_argv_free(paths);
    pn_buf_release(&expanded);
    pn_buf_release(&err);
    pn_buf_release(&text);
    return done;
}

static void deliver_user(struct delivery *d, const char *name, int depth, int skip_forward)
{
    struct passwd *pw = getpwnam(name);
    if (pw == NULL) {
        pn_buf value = PN_BUF_INIT;
        const char *fallback =
            transport_for(d, fallback_maps, PN_P(fallback_transport), name, &value);
        if (fallback == NULL)
            record(d, PN_DELIVER_DEFERRED, "4.3.0", "fallback_transport_maps lookup failure");
        else if (*fallback)
            hand_over(d, fallback, name, depth);
        pn_buf_release(&value);
        if (fallback == NULL || *fallback)
            return;
    }
    if (pw == NULL && *pn_config_raw(PN_P(luser_relay))) {
        luser_relay(d, name);
        return;
    }
    if (pw == NULL) {
        pn_buf text = PN_BUF_INIT;
        pn_buf_printf(&text, "unknown user: \"%s\"", name);
        record(d, PN_DELIVER_BOUNCED, "5.1.1", text.data);
        pn_buf_release(&text);
        return;
    }
    struct stat home;
    if (pn_config_get_bool(PN_P(require_home_directory)) && stat(pw->pw_dir, &home) < 0) {
        pn_buf text = PN_BUF_INIT;
        pn_buf_printf(&text, "cannot access home directory %s: %s", pw->pw_dir, strerror(errno));
        record(d, PN_DELIVER_DEFERRED, "4.3.0", text.data);
        pn_buf_release(&text);
        return;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (uid == 0)
        default_privs(&uid, &gid); /* root never delivers as root */
    /* Reached directly, the recipient is this user's address; through an alias, the user's
     * name in the recipient's domain. */
    pn_buf path = PN_BUF_INIT, recipient = PN_BUF_INIT;
    if (depth == 0) {
        pn_buf_set(&recipient, d->rcpt->addr.data);
    } else {
        pn_buf domain = PN_BUF_INIT;
        pn_addr_domain(d->rcpt->addr.data, &domain);
        pn_buf_printf(&recipient, "%s@%s", name, domain.data);
        pn_buf_release(&domain);
    }
    struct names n;
    names_init(&n, recipient.data, pw);
    /* a user's .forward is followed once per recipient: two that name each other end in a
     * mailbox at the second visit, not in a chain of MAX_DEPTH lookups */
    if (!skip_forward && depth < MAX_DEPTH && first_time(d, "forward", name) &&
        forward_file(d, &n, uid, gid, depth))
        goto out;
    pn_buf transport_value = PN_BUF_INIT;
    const char *transport =
        transport_for(d, transport_maps, PN_P(mailbox_transport), name, &transport_value);
    if (transport == NULL || *transport) {
        if (transport == NULL)
            record(d, PN_DELIVER_DEFERRED, "4.3.0", "mailbox_transport_maps lookup failure");
        else
            hand_over(d, transport, name, depth);
        pn_buf_release(&transport_value);
        goto out;
    }
    pn_buf_release(&transport_value);
    const char *home_mailbox = pn_config_get(PN_P(home_mailbox));
    const char *command = pn_config_raw(PN_P(mailbox_command)); /* $names are the shell's */
    pn_buf per_user = PN_BUF_INIT;
    if (command_maps->count) {
        /* mailbox_command_maps: the user's own command, before mailbox_command */
        int rc = pn_maps_find(command_maps, name, &per_user);
        if (rc < 0) {
            record(d, PN_DELIVER_DEFERRED, "4.3.0", "mailbox_command_maps lookup failure");
            pn_buf_release(&per_user);
            goto out;
        }
        if (rc > 0 && per_user.len)
            command = per_user.data;
    }
    if (*command) {
        pn_buf_printf(&path, "|%s", command);
        deliver_to(d, path.data, uid, gid, -1, 1, &n);
    } else if (*home_mailbox) {
        pn_buf_printf(&path, "%s/%s", pw->pw_dir, home_mailbox);
        deliver_to(d, path.data, uid, gid, -1, 1, &n);
    } else {
        const char *spool = pn_config_get(PN_P(mail_spool_directory));
        struct stat st;
        /* the spool's group to write there, never the root group (the spawner refuses it) */
        long extra = stat(spool, &st) == 0 && st.st_gid != 0 ? (long)st.st_gid : -1;
        pn_buf_printf(&path, "%s/%s", spool, name);
        deliver_to(d, path.data, uid, gid, extra, 1, &n);
    }
    pn_buf_release(&per_user);
out:
    names_release(&n);
    pn_buf_release(&path);
    pn_buf_release(&recipient);
}

static void expand_name(struct delivery *d, const char *name, int depth)
{
    for (size_t i = 0; i < d->seen->len; i++)
        if (strcmp(d->seen->items[i], name) == 0)
            return; /* expanded already: a duplicate, or a loop */
    pn_buf value = PN_BUF_INIT;
    int rc = depth >= MAX_DEPTH ? 0 : pn_maps_find(alias_maps, name, &value);
    if (rc < 0) {
        record(d, PN_DELIVER_DEFERRED, "4.3.0", "alias database unavailable");
    } else if (rc > 0) {
        pn_argv_add(d->seen, name);
        uid_t uid;
        gid_t gid;
        default_privs(&uid, &gid);
        struct names n;
        names_init(&n, d->rcpt->addr.data, NULL);
        /* owner_request_special: a list with an owner-list alias is sent on with the owner
         * (or, with expand_owner_alias, what the owner alias expands to) as its sender */
        const char *saved_sender = d->sender;
        int saved_owned = d->owned;
        pn_buf owner = PN_BUF_INIT, owner_value = PN_BUF_INIT;
        pn_buf_printf(&owner, "owner-%s", name);
        if (pn_config_get_bool(PN_P(owner_request_special)) && !pn_has_prefix(name, "owner-") &&
            pn_maps_find(alias_maps, owner.data, &owner_value) > 0) {
            if (pn_config_get_bool(PN_P(expand_owner_alias))) {
                pn_argv *targets = pn_argv_split(owner_value.data, ", \t\n");
                pn_buf_set(&owner, targets->len ? targets->items[0] : owner.data);
                pn_argv_free(targets);
            }
            pn_buf addr = PN_BUF_INIT;
            pn_addr_rewrite_local(owner.data, &addr);
            pn_buf_set(&owner, addr.data);
            pn_buf_release(&addr);
            d->sender = owner.data;
            d->owned = 1;
        }
        items(d, value.data, uid, gid, depth, name, FROM_ALIAS, &n);
        d->sender = saved_sender;
        d->owned = saved_owned;
        names_release(&n);
        pn_buf_release(&owner);
        pn_buf_release(&owner_value);
    } else {
        deliver_user(d, name, depth, 0);
    }
    pn_buf_release(&value);
}

static int deliver(const pn_delivreq *req, const pn_delivreq_rcpt *r, const pn_qfile *q,
                   const char **dsn, pn_buf *text, void *ctx)
{
    (void)ctx;
    struct delivery d = {.req = req,
                         .rcpt = r,
                         .q = q,
                         .outcome = PN_DELIVER_SENT,
                         .dsn = "2.0.0",
                         .text = text,
                         .seen = pn_argv_new(),
                         .delegated = -1,
                         .sender = req->sender.data,
                         .done = pn_argv_new()};
    static char dsn_copy[16];
    pn_buf local = PN_BUF_INIT;
    pn_addr_localpart(r->addr.data, &local);
    pn_lowercase(local.data);
    pn_buf base = PN_BUF_INIT;
    pn_addr_strip_extension(local.data, pn_config_get(PN_P(recipient_delimiter)), &base);
    pn_buf value = PN_BUF_INIT;
    /* the whole local part first (user+ext), then without the extension */
    if (strcmp(base.data, local.data) != 0 && pn_maps_find(alias_maps, local.data, &value) > 0)
        expand_name(&d, local.data, 0);
    else
        expand_name(&d, base.data, 0);
    if (text->len == 0)
        record(&d, PN_DELIVER_DEFERRED, "4.3.0", "no delivery target");
    snprintf(dsn_copy, sizeof(dsn_copy), "%s", d.dsn);
    *dsn = dsn_copy;
    if (d.delegated >= 0)
        d.outcome = d.delegated | PN_DELIVER_DELEGATED;
    pn_argv_free(d.seen);
    pn_argv_free(d.done);
    pn_buf_release(&local);
    pn_buf_release(&base);
    pn_buf_release(&value);
    return d.outcome;
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    static const pn_agent agent = {
        .relay = "local", .needs_content = 1, .verifies = 1, .deliver = deliver};
    pn_agent_serve(fd, &agent);
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    pn_buf err = PN_BUF_INIT;
    alias_maps = pn_maps_open(PN_P(alias_maps), pn_config_get(PN_P(alias_maps)),
                              PN_DICT_DEFAULT_FLAGS, &err);
    if (alias_maps == NULL)
        pn_fatal("%s", err.data);
    command_maps =
        pn_maps_open(PN_P(mailbox_command_maps), pn_config_get(PN_P(mailbox_command_maps)),
                     PN_DICT_DEFAULT_FLAGS, &err);
    if (command_maps == NULL)
        pn_fatal("%s", err.data);
    transport_maps =
        pn_maps_open(PN_P(mailbox_transport_maps), pn_config_get(PN_P(mailbox_transport_maps)),
                     PN_DICT_DEFAULT_FLAGS, &err);
    fallback_maps = transport_maps ? pn_maps_open(PN_P(fallback_transport_maps),
                                                  pn_config_get(PN_P(fallback_transport_maps)),
                                                  PN_DICT_DEFAULT_FLAGS, &err)
                                   : NULL;
    if (fallback_maps == NULL)
        pn_fatal("%s", err.data);
    local_domains = pn_domlist_open(PN_P(mydestination), pn_config_get(PN_P(mydestination)), &err);
    if (local_domains == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    struct stat spool;
    if (stat(pn_config_get(PN_P(mail_spool_directory)), &spool) == 0)
        spool_gid = (long)spool.st_gid;
    workers = pn_worker_pool_start(policy);
    pn_agent_drop_privileges();
}

static int must_retire(void *ctx)
{
    (void)ctx;
    return pn_maps_changed(alias_maps) || pn_maps_changed(command_maps) ||
           pn_maps_changed(transport_maps) || pn_maps_changed(fallback_maps) ||
           pn_worker_pool_broken(workers);
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
    return pn_single_server_main(argc, argv, &server);
}
