/* main.c: postdrop, the setgid (postdrop) command that puts a message from a local user into
 * maildrop/. It trusts nothing about its caller: the environment is cleared, descriptors
 * above 2 are closed, a configuration directory other than the default is accepted only from
 * root or when alternate_config_directories lists it, the user must be allowed by
 * authorized_submit_users, and the file must be a valid queue file that holds only what a
 * client may write. The file becomes visible to pickup (mode 0744) only when complete. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/log.h"
#include "config/cflog.h"
#include "config/cfparams.h"
#include "ipc/proto.h"
#include "ipc/trigger.h"
#include "mail/qfile.h"
#include "mail/qpath.h"
#include "mail/addr.h"
#include "mail/setgidcmd.h"

static char created[128]; /* removed again when we die half-way */

static void remove_partial(void)
{
    if (created[0])
        unlink(created);
}

/* client_records_only: an envelope with S and R (pending) records, their addresses free of
 * control characters, and the attributes of sendmail's DSN, report and full-name options
 * (ret, envid, trace_flags, full_name) only. */
static int client_records_only(const pn_qfile *q)
{
    size_t pos = 0, len;
    int type;
    const char *payload;
    while (pn_qfile_next(q, &pos, &type, &payload, &len)) {
        if (type == 'R' && (len < 1 || payload[0] != PN_RCPT_TODO))
            return 0;
        if (type == 'S' && pn_addr_has_control(payload, len))
            return 0;
        if (type == 'R') {
            pn_qrcpt r;
            pn_qrcpt_init(&r);
            int bad = pn_qfile_rcpt_parse(payload, len, 0, &r) < 0 ||
                      pn_addr_has_control(r.addr.data, r.addr.len) ||
                      pn_addr_has_control(pn_buf_str(&r.orcpt), r.orcpt.len);
            pn_qrcpt_release(&r);
            if (bad)
                return 0;
        }
        if (type == 'A' && !((len > 4 && memcmp(payload, "ret=", 4) == 0) ||
                             (len > 6 && memcmp(payload, "envid=", 6) == 0) ||
                             (len > 12 && memcmp(payload, "trace_flags=", 12) == 0) ||
                             (len > 10 && memcmp(payload, "full_name=", 10) == 0)))
            return 0;
        if (type != 'S' && type != 'R' && type != 'A')
            return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    const char *config = getenv("MAIL_CONFIG");
    int ch;
    pn_setgid_sanitize();
    pn_log_init("postdrop", PN_LOG_STDERR | PN_LOG_SYSLOG);
    pn_log_set_fatal_hook(remove_partial);
    while ((ch = getopt(argc, argv, "c:rv")) != -1) {
        if (ch == 'c')
            config = optarg;
        else if (ch == 'v')
            pn_verbose++;
        else if (ch != 'r')
            pn_fatal("usage: postdrop [-c config_dir] [-v]");
    }
    pn_setgid_config_directory(config);
    if (config)
        pn_config_set_directory(config);
    pn_config_load();
    pn_config_set_process("postdrop", NULL);
    pn_config_logging("postdrop", 0);
    pn_setgid_enter_queue();
    pn_setgid_check_user(PN_P(authorized_submit_users), "submit mail", 1);

    /* The message: a queue file built by sendmail, read whole (it is bounded). */
    long limit = pn_config_get_int(PN_P(message_size_limit));
    size_t max = limit > 0 ? (size_t)limit * 2 + 1024 * 1024 : (size_t)1 << 30;
    pn_buf data = PN_BUF_INIT;
    pn_buf_init(&data);
    char chunk[65536];
    ssize_t n;
    while ((n = read(0, chunk, sizeof(chunk))) > 0) {
        if (data.len + (size_t)n > max)
            pn_fatal("message too large");
        pn_buf_append(&data, chunk, (size_t)n);
    }
    pn_buf id = PN_BUF_INIT, why = PN_BUF_INIT, path = PN_BUF_INIT;
    struct timeval tv;
    int fd = pn_queue_create("maildrop", pn_config_get_bool(PN_P(enable_long_queue_ids)), &id, &tv,
                             &why);
    if (fd < 0)
        pn_fatal("%s", why.data);
    pn_queue_path("maildrop", id.data, &path);
    snprintf(created, sizeof(created), "%s", path.data);
    pn_qfile q;
    const char *p = data.data;
    size_t left = data.len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0)
            pn_fatal("write %s: %s", path.data, strerror(errno));
        p += w;
        left -= (size_t)w;
    }
    pn_buf content = PN_BUF_INIT;
    if (pn_qfile_open(&q, fd, &why) < 0 || pn_qfile_read_content(&q, &content, &why) < 0)
        pn_fatal("invalid message from sendmail: %s", why.data);
    if (!client_records_only(&q))
        pn_fatal("invalid message from sendmail: records a client may not write");
    /* the size the header declares is the sender's word: the content read is what counts */
    if (q.content_len != content.len)
        pn_fatal("invalid message from sendmail: %zu content bytes, %llu declared", content.len,
                 (unsigned long long)q.content_len);
    if (limit > 0 && content.len > (size_t)limit)
        pn_fatal("message file too big");
    if (fsync(fd) < 0 || fchmod(fd, 0744) < 0 || close(fd) < 0)
        pn_fatal("sync %s: %s", path.data, strerror(errno));
    created[0] = 0;
    pn_qfile_release(&q);
    pn_trigger_send(PN_SVC_PICKUP, "W", 1);
    pn_buf_release(&data);
    pn_buf_release(&content);
    pn_buf_release(&id);
    pn_buf_release(&why);
    pn_buf_release(&path);
    return 0;
}
