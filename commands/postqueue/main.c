/* main.c: postqueue (and mailq): list the queue through showq in the reference's layout (-p)
 * or as one JSON object per message (-j), ask qmgr to flush (-f), or the flush service to
 * deliver one message (-i) or one site's mail (-s). It is a setgid (postdrop) command in a
 * real installation: it talks only to showq, qmgr and flush, and reads no queue file. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/sock.h"
#include "base/stream.h"
#include "config/cflog.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"
#include "ipc/trigger.h"
#include "mail/flushclnt.h"
#include "mail/setgidcmd.h"

static void json_string(const char *text)
{
    putchar('"');
    for (const unsigned char *cp = (const unsigned char *)text; *cp; cp++) {
        if (*cp == '"' || *cp == '\\')
            printf("\\%c", *cp);
        else if (*cp < 0x20)
            printf("\\u%04x", *cp);
        else
            putchar(*cp);
    }
    putchar('"');
}

static void show(int json)
{
    pn_buf path = PN_BUF_INIT, why = PN_BUF_INIT, frame = PN_BUF_INIT, text = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/public/showq", pn_config_get(PN_P(queue_directory)));
    int fd = pn_sock_connect_unix(path.data, &why);
    if (fd < 0)
        pn_fatal("Queue report unavailable - mail system is down (%s)", why.data);
    pn_stream *s = pn_stream_fdopen(fd);
    pn_stream_set_timeout(s, 60000);
    long long total_size = 0;
    int long_ids = pn_config_get_bool(PN_P(enable_long_queue_ids));
    pn_buf last = PN_BUF_INIT;
    int count = 0;
    while (pn_attr_read_frame(s, &frame) > 0) {
        pn_attrs attrs, msg, rcpt;
        pn_buf_reset(&why);
        if (pn_attr_parse(frame.data, frame.len, &attrs, &why) < 0)
            pn_fatal("malformed reply from showq: %s", why.data);
        size_t cursor = 0;
        if (pn_attr_next_group(&attrs, PN_ATTR_MSG, &cursor, &msg) <= 0)
            break; /* {status}: the end */
        pn_buf queue = PN_BUF_INIT, id = PN_BUF_INIT, sender = PN_BUF_INIT, addr = PN_BUF_INIT;
        pn_buf reason = PN_BUF_INIT;
        int64_t arrival = 0, size = 0, expired = 0;
        pn_attr_copy_str(&msg, PN_ATTR_QUEUE, &queue);
        pn_attr_copy_str(&msg, PN_ATTR_QUEUE_ID, &id);
        pn_attr_copy_str(&msg, PN_ATTR_SENDER, &sender);
        pn_attr_get_int(&msg, PN_ATTR_ARRIVAL, &arrival);
        pn_attr_get_int(&msg, PN_ATTR_SIZE, &size);
        pn_attr_get_int(&msg, PN_ATTR_FORCED_EXPIRE, &expired);
        if (json) {
            printf("{\"queue_name\": ");
            json_string(queue.data);
            printf(", \"queue_id\": ");
            json_string(id.data);
            printf(", \"arrival_time\": %lld, \"message_size\": %lld, \"forced_expire\": %s, "
                   "\"sender\": ",
                   (long long)arrival, (long long)size, expired ? "true" : "false");
            json_string(sender.data);
            printf(", \"recipients\": [");
            size_t rc = 0;
            for (int n = 0; pn_attr_next_group(&msg, PN_ATTR_RCPT, &rc, &rcpt) > 0; n++) {
                pn_attr_copy_str(&rcpt, PN_ATTR_ADDR, &addr);
                printf("%s{\"address\": ", n ? ", " : "");
                json_string(addr.data);
                if (pn_attr_copy_str(&rcpt, PN_ATTR_REASON, &reason) == 1) {
                    printf(", \"delay_reason\": ");
                    json_string(pn_buf_str(&reason));
                }
                putchar('}');
            }
            printf("]}\n");
        } else {
            /* shown on a terminal: no control character of anyone's reaches it */
            pn_log_sanitize(sender.data, sender.len);
            if (count == 0)
                printf(long_ids ? "----Queue ID----- --Size-- ---Arrival Time---- "
                                  "--Sender/Recipient------\n"
                                : "-Queue ID-  --Size-- ----Arrival Time---- "
                                  "-Sender/Recipient-------\n");
            char flag = strcmp(queue.data, "active") == 0 ? '*'
                        : strcmp(queue.data, "hold") == 0 ? '!'
                        : expired                         ? '#'
                                                          : ' ';
            char date[32];
            time_t t = (time_t)arrival;
            struct tm tm;
            localtime_r(&t, &tm);
            asctime_r(&tm, date);
            pn_buf_reset(&text);
            pn_buf_printf(&text, "%s%c", id.data, flag);
            if (long_ids)
                printf("%-17s %8lld %19.19s %s\n", text.data, (long long)size, date,
                       sender.len ? sender.data : "MAILER-DAEMON");
            else
                printf("%-11s %7lld %20.20s %s\n", text.data, (long long)size, date,
                       sender.len ? sender.data : "MAILER-DAEMON");
            /* recipients deferred for one reason share one "(reason)" line */
            size_t rc = 0;
            int shown = 0;
            pn_buf_reset(&last);
            while (pn_attr_next_group(&msg, PN_ATTR_RCPT, &rc, &rcpt) > 0) {
                pn_attr_copy_str(&rcpt, PN_ATTR_ADDR, &addr);
                pn_log_sanitize(addr.data, addr.len);
                if (pn_attr_copy_str(&rcpt, PN_ATTR_REASON, &reason) == 1) {
                    pn_log_sanitize(reason.data, reason.len);
                    const char *why_text = reason.len ? reason.data : "reason unavailable";
                    if (!shown || strcmp(why_text, pn_buf_str(&last)) != 0) {
                        int pad = 76 - (int)strlen(why_text);
                        printf("%*s(%s)\n", pad > 0 ? pad : 0, "", why_text);
                        pn_buf_set(&last, why_text);
                        shown = 1;
                    }
                }
                printf("%*s%s\n", long_ids ? 47 : 41, "", addr.data);
            }
            printf("\n");
        }
        total_size += size;
        count++;
        pn_buf_release(&queue);
        pn_buf_release(&id);
        pn_buf_release(&sender);
        pn_buf_release(&addr);
        pn_buf_release(&reason);
    }
    pn_stream_close(s);
    if (!json) {
        if (count == 0)
            printf("Mail queue is empty\n");
        else
            printf("-- %lld Kbytes in %d Request%s.\n", total_size / 1024, count,
                   count == 1 ? "" : "s");
    }
    pn_buf_release(&path);
    pn_buf_release(&why);
    pn_buf_release(&frame);
    pn_buf_release(&text);
    pn_buf_release(&last);
}

/* flush_one: -i and -s, through the flush service. */
static void flush_one(int mode, const char *value)
{
    pn_buf path = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/public/flush", pn_config_get(PN_P(queue_directory)));
    int status = mode == 'i' ? pn_flush_send_file(path.data, value, &why)
                             : pn_flush_send_site(path.data, value, &why);
    if (status == PN_FLUSH_FAIL)
        pn_fatal("Cannot flush mail queue - mail system is down");
    if (status == PN_FLUSH_UNKNOWN)
        pn_fatal("%s: no such message in the deferred queue", value);
    if (status == PN_FLUSH_DENY)
        pn_fatal("%s: not eligible for a fast flush (see fast_flush_domains)", value);
    if (status != PN_FLUSH_OK)
        pn_fatal("the flush service refused the request for %s", value);
    pn_buf_release(&path);
    pn_buf_release(&why);
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    int mode = strcmp(base, "mailq") == 0 ? 'p' : 0, ch;
    const char *target = NULL;
    pn_setgid_sanitize();
    pn_log_init("postqueue", PN_LOG_STDERR | PN_LOG_SYSLOG);
    const char *config = getenv("MAIL_CONFIG");
    while ((ch = getopt(argc, argv, "c:fi:jps:v")) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'f':
        case 'j':
        case 'p': mode = ch; break;
        case 'i':
        case 's':
            mode = ch;
            target = optarg;
            break;
        case 'v': pn_verbose++; break;
        default: pn_fatal("usage: postqueue -f | -j | -p | -i queue_id | -s site");
        }
    }
    pn_setgid_config_directory(config);
    if (config)
        pn_config_set_directory(config);
    pn_config_load();
    pn_config_set_process("postqueue", NULL);
    pn_config_logging("postqueue", 0);
    pn_setgid_enter_queue();
    if (mode == 'p' || mode == 'j')
        pn_setgid_check_user(PN_P(authorized_mailq_users), "view the mail queue", 0);
    else if (mode == 'f' || mode == 'i' || mode == 's')
        pn_setgid_check_user(PN_P(authorized_flush_users), "flush the mail queue", 0);
    if (mode == 'p' || mode == 'j') {
        show(mode == 'j');
    } else if (mode == 'f') {
        pn_buf path = PN_BUF_INIT;
        pn_buf_printf(&path, "%s/public/qmgr", pn_config_get(PN_P(queue_directory)));
        if (pn_trigger_send(path.data, "FADI", 4) < 0)
            pn_fatal("Cannot flush mail queue - mail system is down");
        pn_buf_release(&path);
    } else if (mode == 'i' || mode == 's') {
        flush_one(mode, target);
    } else {
        pn_fatal("usage: postqueue -f | -j | -p | -i queue_id | -s site");
    }
    fflush(stdout);
    return 0;
}
