/* main.c: postlog, logging from scripts (doc/logging.md): each argument list, or else each
 * line of standard input, becomes one record with Postern's own logging, so it lands where
 * the daemons' lines do (maillog_file through postlogd, or syslog). Also on standard error
 * when that is a terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/stream.h"
#include "config/cflog.h"
#include "config/cfparams.h"

static void usage(void)
{
    pn_fatal("usage: postlog [-iv] [-c config_dir] [-p priority] [-t tag] [text...]");
}

static const struct {
    const char *name;
    int priority;
    const char *level;
} priorities[] = {{"info", LOG_INFO, NULL},
                  {"warn", LOG_WARNING, "warning"},
                  {"warning", LOG_WARNING, "warning"},
                  {"error", LOG_ERR, "error"},
                  {"fatal", LOG_CRIT, "fatal"},
                  {"panic", LOG_CRIT, "panic"}};

int main(int argc, char **argv)
{
    int ch, which = 0;
    const char *tag = NULL;
    pn_log_init("postlog", PN_LOG_STDERR);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "c:ip:t:v")) != -1) {
        switch (ch) {
        case 'c': pn_config_set_directory(optarg); break;
        case 'i': break; /* the process id is always logged */
        case 'p': {
            size_t n = sizeof(priorities) / sizeof(priorities[0]), i;
            for (i = 0; i < n && strcmp(optarg, priorities[i].name) != 0; i++)
                ;
            if (i == n)
                pn_fatal("unknown priority value: \"%s\" (use info, warn, error, fatal or panic)",
                         optarg);
            which = (int)i;
            break;
        }
        case 't': tag = optarg; break;
        case 'v': pn_verbose++; break;
        default: usage();
        }
    }
    pn_config_load();
    pn_config_set_process("postlog", NULL);
    pn_config_logging("postlog", 0);
    if (tag)
        pn_log_set_full_tag(tag);
    pn_log_set_destinations(PN_LOG_SYSLOG | (isatty(2) ? PN_LOG_STDERR : 0));
    if (optind < argc) {
        pn_buf text = PN_BUF_INIT;
        for (int i = optind; i < argc; i++)
            pn_buf_printf(&text, "%s%s", i > optind ? " " : "", argv[i]);
        pn_log_text(priorities[which].priority, priorities[which].level, text.data);
        pn_buf_release(&text);
        return 0;
    }
    pn_stream *in = pn_stream_fdopen(0);
    pn_buf line = PN_BUF_INIT;
    while (pn_stream_get_line(in, &line, PN_LOG_DGRAM_MAX) > 0) {
        while (line.len && (line.data[line.len - 1] == '\n' || line.data[line.len - 1] == '\r'))
            line.data[--line.len] = 0;
        pn_log_text(priorities[which].priority, priorities[which].level, line.data);
    }
    pn_buf_release(&line);
    pn_stream_release(in);
    return 0;
}
