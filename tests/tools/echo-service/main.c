/* main.c: echo-service, a tiny daemon for testing master and the server skeletons. It
 * answers one line per request: "param NAME" (the value as the daemon sees it), "pid",
 * "sleep MS", "exec" (whether a program can be run: "ran", or the error), "quit", and logs
 * each request (a wakeup from master shows as "request: W").
 * Arguments: "multi" runs it as a multi-client server, "trigger" as a trigger server that
 * logs what it receives, "die-at-start" makes it fail before serving anyone. It stays small:
 * it shows what a daemon built on the skeletons looks like. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/event.h"
#include "base/log.h"
#include "base/stream.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "ipc/server.h"

static void answer(pn_stream *client, const char *request)
{
    long ms;
    if (pn_has_prefix(request, "param ")) {
        const char *name = request + 6;
        pn_stream_printf(client, "%s\n",
                         pn_param_find(name) || pn_config_setting(name) ? pn_config_get(name)
                                                                        : "(unknown parameter)");
    } else if (strcmp(request, "pid") == 0) {
        pn_stream_printf(client, "%ld\n", (long)getpid());
    } else if (pn_has_prefix(request, "sleep ") && pn_parse_long(request + 6, &ms) == 0 &&
               ms >= 0 && ms <= 60000) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        pn_stream_puts(client, "done\n");
    } else if (strcmp(request, "exec") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            char *argv[] = {"true", NULL};
            execv("/bin/true", argv);
            _exit(errno == EPERM ? 3 : 4);
        }
        int status = 0;
        if (pid > 0)
            waitpid(pid, &status, 0);
        pn_stream_puts(client, pid < 0                  ? "fork failed\n"
                               : WEXITSTATUS(status) == 0 ? "ran\n"
                               : WEXITSTATUS(status) == 3 ? "denied\n"
                                                          : "failed\n");
    } else {
        pn_stream_puts(client, "unknown request\n");
    }
}

/* one_request: read and answer one line; 0 when the client is done. */
static int one_request(pn_stream *client)
{
    pn_buf line = PN_BUF_INIT;
    int rc = pn_stream_get_line(client, &line, 1024);
    int more = rc == PN_LINE_OK;
    if (rc == PN_LINE_OK || rc == PN_LINE_LAST) {
        pn_info("request: %s", pn_buf_str(&line));
        if (strcmp(pn_buf_str(&line), "quit") == 0)
            more = 0;
        else if (more)
            answer(client, pn_buf_str(&line));
    }
    if (pn_stream_flush(client) < 0)
        more = 0;
    pn_buf_release(&line);
    return more;
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, 30000);
    while (one_request(client))
        ;
    pn_stream_release(client);
}

/* The multi-client form: each client is watched by the event loop; the skeleton is told
 * before and after each request, so that a retiring process ends each kept connection
 * between two requests. */
static void multi_close(int fd, void *client)
{
    pn_event_unwatch(fd);
    pn_stream_close(client);
    pn_server_disconnect(fd);
}

static void multi_readable(int fd, int events, void *ctx)
{
    pn_stream *client = ctx;
    (void)events;
    int more;
    do {
        pn_server_request_ready();
        more = one_request(client) && !pn_server_client_done(fd);
    } while (more && pn_stream_buffered(client) > 0);
    if (!more)
        multi_close(fd, client);
}

static void multi_serve(int fd, void *ctx)
{
    (void)ctx;
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, 30000);
    pn_server_client_data(fd, client);
    pn_event_watch(fd, PN_EVENT_READ, multi_readable, client);
}

static void trigger(const char *data, size_t len, void *ctx)
{
    (void)ctx;
    pn_info("trigger: %.*s", (int)len, data);
}

static void pre_jail(void *ctx)
{
    pn_server *server = ctx;
    for (int i = 0; i < server->argc; i++)
        if (strcmp(server->argv[i], "die-at-start") == 0)
            pn_fatal("told to fail at start-up");
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .trigger = trigger,
                               .pre_jail = pre_jail,
                               .max_use = -1,
                               .max_idle = -1,
                               .process_limit = -1};
    server.ctx = &server;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "trigger") == 0)
            return pn_trigger_server_main(argc, argv, &server);
        if (strcmp(argv[i], "multi") == 0) {
            server.serve = multi_serve;
            server.drop = multi_close;
            return pn_multi_server_main(argc, argv, &server);
        }
    }
    return pn_single_server_main(argc, argv, &server);
}
