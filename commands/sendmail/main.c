/* main.c: sendmail, the Sendmail-compatible way in for local programs: it reads a message
 * from standard input and posts it (post.c), or with -bs speaks SMTP on standard input and
 * output (smtp_stdio.c). Called as mailq, or with -bp, it runs postqueue -p; as newaliases,
 * or with -bi or -I, postalias on $alias_database; -q runs the queue; -v asks for a report
 * of the first delivery attempt and -bv for one of what delivery would do. Options Sendmail
 * knows and this one does not need are accepted and ignored. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cflog.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/dsn.h"
#include "mail/qfile.h"
#include "sendmail.h"

/* read_message: standard input with LF line ends; a lone "." ends it unless -i. */
static void read_message(int dot_ends, pn_buf *msg)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)n;
        if (line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if (dot_ends && len == 1 && line[0] == '.')
            break;
        pn_buf_append(msg, line, len);
        pn_buf_putc(msg, '\n');
    }
    free(line);
}

/* -q flushes the queue, -qRsite one destination, -qIid one message, all through
 * postqueue; -q<interval> asks for periodic runs, which qmgr already does. */
static void run_queue(const char *arg)
{
    if (isdigit((unsigned char)arg[0])) {
        pn_warn("-q%s: queue runs are periodic already (queue_run_delay); ignored", arg);
        exit(0);
    }
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/postqueue", pn_config_get(PN_P(command_directory)));
    if (arg[0] == 'R' && arg[1])
        execl(path.data, "postqueue", "-s", arg + 1, (char *)NULL);
    else if (arg[0] == 'I' && arg[1])
        execl(path.data, "postqueue", "-i", arg + 1, (char *)NULL);
    else if (arg[0] == 0)
        execl(path.data, "postqueue", "-f", (char *)NULL);
    else
        pn_fatal("unsupported: -q%s", arg);
    pn_fatal("exec %s: %s", path.data, strerror(errno));
}

/* config_option: -C names the configuration directory, or a file in it (main.cf); the
 * commands run from here (postdrop, postqueue) get it as MAIL_CONFIG. */
static void config_option(const char *arg)
{
    struct stat st;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", arg);
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            snprintf(dir, sizeof(dir), ".");
        else if (slash == dir)
            dir[1] = 0;
        else
            *slash = 0;
    }
    pn_config_set_directory(dir);
    setenv("MAIL_CONFIG", dir, 1);
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    int dot_ends = 1, stdio_smtp = 0, ch;
    const char *sender = NULL, *queue_run = NULL, *alias_file = NULL;
    post_options opts = {0};
    pn_log_init("sendmail", PN_LOG_STDERR | PN_LOG_SYSLOG);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx")) != -1) {
        switch (ch) {
        case 'C': config_option(optarg); break;
        case 'F': opts.full_name = optarg; break;
        case 'N':
            if ((opts.notify = pn_dsn_notify_parse(optarg)) <= 0)
                pn_fatal("bad -N option value: %s", optarg);
            break;
        case 'R':
            if (strcasecmp(optarg, "full") != 0 && strcasecmp(optarg, "hdrs") != 0)
                pn_fatal("bad -R option value: %s", optarg);
            opts.ret = strcasecmp(optarg, "full") == 0 ? "FULL" : "HDRS";
            break;
        case 'V':
            for (const char *c = optarg; *c; c++)
                if ((unsigned char)*c < 33 || (unsigned char)*c > 126)
                    pn_fatal("bad -V option value: %s", optarg);
            if (strlen(optarg) > 100)
                pn_fatal("-V option value is too long");
            opts.envid = optarg;
            break;
        case 'f':
        case 'r': sender = optarg; break;
        case 'i': dot_ends = 0; break;
        case 'o':
            if (strcmp(optarg, "i") == 0)
                dot_ends = 0;
            else if (optarg[0] == 'A' && optarg[1])
                alias_file = optarg + 1; /* -oAfile: the alias database newaliases builds */
            break;
        case 't': opts.extract = 1; break;
        case 'v':
            if (opts.trace == NULL)
                opts.trace = "record"; /* a report of the first delivery attempt */
            break;
        case 'b':
            if (strcmp(optarg, "p") == 0)
                base = "mailq";
            else if (strcmp(optarg, "i") == 0)
                base = "newaliases";
            else if (strcmp(optarg, "s") == 0)
                stdio_smtp = 1;
            else if (strcmp(optarg, "v") == 0)
                opts.trace = "verify";
            else if (strcmp(optarg, "m") != 0)
                pn_fatal("unsupported: -b%s", optarg);
            break;
        case 'I': base = "newaliases"; break;
        case 'q': queue_run = optarg ? optarg : ""; break;
        default: break; /* Sendmail options without meaning here */
        }
    }
    pn_buf err = PN_BUF_INIT;
    if (pn_config_read_main(&err) < 0)
        pn_fatal("%s", err.data);
    pn_config_set_process("sendmail", NULL);
    pn_config_logging("sendmail", 0);
    if (strcmp(base, "mailq") == 0 || strcmp(base, "newaliases") == 0) {
        int mailq = strcmp(base, "mailq") == 0;
        pn_buf path = PN_BUF_INIT;
        pn_buf_printf(&path, "%s/%s", pn_config_get(PN_P(command_directory)),
                      mailq ? "postqueue" : "postalias");
        /* the configuration directory (-C) travels as MAIL_CONFIG */
        if (mailq)
            execl(path.data, "postqueue", "-p", (char *)NULL);
        else if (alias_file)
            execl(path.data, "newaliases", alias_file, (char *)NULL);
        else
            execl(path.data, "newaliases", (char *)NULL);
        pn_fatal("exec %s: %s", path.data, strerror(errno));
    }

    if (queue_run)
        run_queue(queue_run);
    if (stdio_smtp)
        return smtp_stdio(&opts);

    pn_buf msg = PN_BUF_INIT;
    pn_buf_init(&msg);
    if (opts.trace == NULL || strcmp(opts.trace, "verify") != 0)
        read_message(dot_ends, &msg); /* -bv verifies addresses: there is no message */
    pn_argv *rcpts = pn_argv_new();
    for (int i = optind; i < argc; i++)
        header_addresses(argv[i], rcpts);
    struct passwd *pw = getpwuid(getuid());
    if (sender == NULL)
        sender = pw ? pw->pw_name : "unknown";
    /* the full name for a From: that cleanup adds: -F, else $NAME, else the account's */
    char gecos[128] = "";
    if (opts.full_name == NULL && getenv("NAME"))
        opts.full_name = getenv("NAME");
    if (opts.full_name == NULL && pw && pw->pw_gecos) {
        snprintf(gecos, sizeof(gecos), "%s", pw->pw_gecos);
        gecos[strcspn(gecos, ",")] = 0;
        opts.full_name = gecos;
    }
    int rc = post_message(&opts, sender, rcpts, &msg);
    if (rc != 0)
        pn_error("the message could not be posted; nothing was sent");
    pn_argv_free(rcpts);
    pn_buf_release(&msg);
    pn_buf_release(&err);
    return rc;
}
