/* main.c: pickup, the way from maildrop/ into cleanup (public/pickup, woken by postdrop and
 * every 60 s). A maildrop file is taken only when complete (mode 0744) and valid; its sender
 * is the submitting user's when the file says nothing else, its content gets a Received line
 * "by HOST (Postern, from userid N)", and it is removed only after cleanup acknowledged the
 * copy (a crash in between gives a duplicate, never a loss), or refused it for good: a
 * malformed file is removed with a warning, a refused message returned to its sender. */
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "config/cfparams.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/cleanupclnt.h"
#include "mail/qfile.h"
#include "mail/qpath.h"

static pn_cleanup_client *cleanup;

/* The refusals that trying again cannot change. */
#define PERMANENT (PN_CLEANUP_SIZE | PN_CLEANUP_CONTENT | PN_CLEANUP_HOPS | PN_CLEANUP_RCPT)

/* pass_dsn_attrs: the RET and ENVID that sendmail -R and -V recorded, the full name of -F,
 * and the report that -v or -bv asked for; the file is a user's, so only well-formed values
 * pass. */
static void pass_dsn_attrs(const pn_qfile *q, pn_cleanup_client *client)
{
    pn_buf value = PN_BUF_INIT;
    const char *ret = pn_qfile_attr(q, "ret", &value);
    if (ret && (strcmp(ret, "FULL") == 0 || strcmp(ret, "HDRS") == 0))
        pn_cleanup_attr(client, "ret", ret);
    const char *envid = pn_qfile_attr(q, "envid", &value);
    int ok = envid && *envid && strlen(envid) <= 100;
    for (const char *c = envid; ok && *c; c++)
        ok = (unsigned char)*c > 32 && (unsigned char)*c < 127;
    if (ok)
        pn_cleanup_attr(client, "envid", envid);
    const char *name = pn_qfile_attr(q, "full_name", &value); /* sendmail -F */
    ok = name && *name && strlen(name) <= 100;
    for (const char *c = name; ok && *c; c++)
        ok = (unsigned char)*c >= 32 && *c != 127;
    if (ok)
        pn_cleanup_attr(client, "full_name", name);
    const char *trace = pn_qfile_attr(q, "trace_flags", &value); /* sendmail -v, -bv */
    if (trace && (strcmp(trace, "record") == 0 || strcmp(trace, "verify") == 0))
        pn_cleanup_attr(client, "trace_flags", trace);
    pn_buf_release(&value);
}

/* returned: cleanup refused the message for good (header or body checks, no valid
 * recipient, too big): the sender gets the reason and the message's headers from
 * MAILER-DAEMON, and the maildrop file goes. 0 once the notice is queued or there is nobody
 * to tell; -1 to keep the file and try again later. */
static int returned(const char *path, const char *sender, const char *reason, const pn_buf *content)
{
    pn_info("%s: rejected: %s", path, reason);
    if (*sender == 0)
        return 0;
    const char *host = pn_config_get_hostname(PN_P(myhostname));
    pn_buf text = PN_BUF_INIT, id = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_buf_printf(&text,
                  "From: MAILER-DAEMON@%s (Mail Delivery System)\n"
                  "To: %s\nSubject: Undelivered Mail Returned to Sender\n"
                  "Auto-Submitted: auto-replied\n\n"
                  "This is the mail system at host %s.\n\n"
                  "Your message could not be accepted: %s\n\n"
                  "The headers of your message follow.\n\n",
                  host, sender, host, reason);
    const char *end = content->len ? strstr(content->data, "\n\n") : NULL;
    pn_buf_append(&text, content->data, end ? (size_t)(end - content->data) + 1 : content->len);
    int rc = pn_cleanup_submit(cleanup, "", sender, NULL, text.data, text.len, &id, &why);
    if (rc == 0)
        pn_info("%s: sender non-delivery notification: %s", path, id.data);
    else
        pn_warn("%s: cannot return the message to its sender: %s", path, why.data);
    pn_buf_release(&text);
    pn_buf_release(&id);
    pn_buf_release(&why);
    return rc;
}

static void pick(const char *name)
{
    pn_buf path = PN_BUF_INIT, why = PN_BUF_INIT, sender = PN_BUF_INIT, content = PN_BUF_INIT;
    pn_buf id = PN_BUF_INIT, field = PN_BUF_INIT;
    pn_buf_printf(&path, "maildrop/%s", name);
    int fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0777) != 0744)
        goto out; /* not complete yet, or not ours to take */
    if (pn_qfile_open(&q, fd, &why) < 0 || pn_qfile_read_content(&q, &content, &why) < 0) {
        pn_warn("%s: %s: removed", path.data, why.data);
        unlink(path.data);
        goto out;
    }
    pn_qfile_sender(&q, &sender);
    if (cleanup == NULL)
        cleanup = pn_cleanup_client_new(PN_SVC_CLEANUP);
    if (pn_cleanup_open(cleanup, pn_cleanup_received_flags(), &id, &why) < 0) {
        pn_warn("%s: %s", path.data, why.data);
        goto out;
    }
    pn_info("%s: uid=%ld from=<%s>", id.data, (long)st.st_uid, sender.data);
    pn_cleanup_attr(cleanup, "rewrite_context", "local");
    pn_cleanup_filter(cleanup);
    pass_dsn_attrs(&q, cleanup);
    pn_cleanup_sender(cleanup, sender.data);
    size_t pos = 0;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next_rcpt(&q, &pos, 1, &r)) /* a requeued file keeps what is pending */
        pn_cleanup_rcpt(cleanup, r.addr.data, r.addr.data, r.orcpt.data, r.notify);
    pn_qrcpt_release(&r);
    pn_cleanup_content(cleanup);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm);
    pn_buf_printf(&field, "Received: by %s (%s, from userid %ld)\n\tid %s; %s",
                  pn_config_get_hostname(PN_P(myhostname)), pn_config_get(PN_P(mail_name)),
                  (long)st.st_uid, id.data, date);
    pn_cleanup_header(cleanup, field.data, field.len);
    pn_cleanup_message(cleanup, content.data, content.len);
    int status = -1;
    int done = pn_cleanup_finish(cleanup, &status, &why) == 0;
    if (done && status == 0)
        unlink(path.data);
    else if (done && (status & PN_CLEANUP_PROTO)) {
        /* a record cleanup will never take (an address with control characters, a record a
         * client may not write): trying again cannot help, telling the sender is not safe */
        pn_warn("%s: message from uid %ld refused as malformed: removed", path.data,
                (long)st.st_uid);
        unlink(path.data);
    } else if (done && (status & PERMANENT) && !(status & ~PERMANENT)) {
        if (returned(path.data, sender.data, pn_buf_str(&why), &content) == 0)
            unlink(path.data);
    } else
        pn_warn("%s: cleanup did not take it (status %d): %s", path.data, status, pn_buf_str(&why));
out:
    pn_qfile_release(&q);
    if (fd >= 0)
        close(fd);
    pn_buf_release(&path);
    pn_buf_release(&why);
    pn_buf_release(&sender);
    pn_buf_release(&content);
    pn_buf_release(&id);
    pn_buf_release(&field);
}

static void trigger(const char *data, size_t len, void *ctx)
{
    (void)data;
    (void)len;
    (void)ctx;
    DIR *d = opendir("maildrop");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (pn_qid_valid(e->d_name))
            pick(e->d_name);
    closedir(d);
}

static void post_jail(void *ctx)
{
    trigger("W", 1, ctx);
}

int main(int argc, char **argv)
{
    static pn_server server = {.trigger = trigger,
                               .post_jail = post_jail,
                               .max_use = -1,
                               .max_idle = -1,
                               .process_limit = 1};
    return pn_trigger_server_main(argc, argv, &server);
}
