/* fuzz_cleanup.c: cleanup's side of a submission (cleanup/cleanup without its main): the
 * input is the record stream a client sends (type, length, payload), taken record by record
 * as cleanup takes it, then the message goes through what cleanup does before it writes the
 * queue file: header_checks, mime_header_checks, nested_header_checks and body_checks on the
 * MIME structure, the actions they ask for, canonical mapping and masquerading, the header
 * rewriting (Message-ID, Date, From, Received counting). The first byte says whether the
 * client is trusted (its attributes count). */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../../cleanup/cleanup/cleanup.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "fuzz.h"
#include "mail/cleanupclnt.h"

static char top[64];

static void setup(void)
{
    snprintf(top, sizeof(top), "/tmp/pn-fuzz-cleanup-%d", (int)getpid());
    mkdir(top, 0700);
    char path[128];
    snprintf(path, sizeof(path), "%s/header_checks", top);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "/^Subject:.*reject/ REJECT no thanks\n/^X-Hold:/ HOLD\n"
                "/^X-Discard:/ DISCARD\n/^X-Redirect:/ REDIRECT other@example.com\n"
                "/^X-Bcc:/ BCC copy@example.com\n/^X-Replace: (.*)/ REPLACE X-Replaced: $1\n"
                "/^X-Prepend:/ PREPEND X-Added: yes\n/^X-Ignore:/ IGNORE\n"
                "/^X-Warn:/ WARN look\n/^X-Filter:/ FILTER smtp:[127.0.0.1]:10025\n");
    fclose(fp);
    snprintf(path, sizeof(path), "%s/body_checks", top);
    fp = fopen(path, "w");
    fprintf(fp, "/viagra/ REJECT\n/^begin [0-7]+ / DISCARD\n/hold me/ HOLD\n");
    fclose(fp);
    snprintf(path, sizeof(path), "%s/main.cf", top);
    fp = fopen(path, "w");
    fprintf(fp,
            "queue_directory = %s\ncompatibility_level = 3.6\n"
            "myhostname = mx.example.com\nmydomain = example.com\nmyorigin = example.com\n"
            "header_checks = regexp:%s/header_checks\n"
            "mime_header_checks = $header_checks\nnested_header_checks = $header_checks\n"
            "body_checks = regexp:%s/body_checks\n"
            "masquerade_domains = example.com\n"
            "message_size_limit = 100000\nhopcount_limit = 20\n",
            top, top, top);
    fclose(fp);
    pn_config_set_directory(top);
    pn_config_load();
    pn_config_set_process("cleanup", "cleanup");
    envelope_init();
    checks_init();
    characters_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_cleanup");
    if (top[0] == 0)
        setup();
    if (size < 1 || size > 262144)
        return 0;
    /* the records come through a socket pair, as from a client; a whole input fits in the
     * socket's buffer, so no second thread is needed to write it */
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return 0;
    int buffer = 1 << 20;
    setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
    setsockopt(pair[0], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
    size_t done = 0;
    while (done < size - 1) {
        ssize_t n = write(pair[1], data + 1 + done, size - 1 - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(pair[1]);
    pn_stream *client = pn_stream_fdopen(pair[0]);
    cleanup_msg msg;
    cleanup_msg_init(&msg);
    pn_buf_set(&msg.queue_id, "4FuzzC1n");
    msg.trusted = data[0] & 1;
    msg.flags = PN_CLEANUP_FLAGS_RECEIVED;
    int aborted = 0, rc;
    for (int records = 0; records < 100000; records++)
        if ((rc = cleanup_take_record(client, &msg, &aborted)) <= 0)
            break;
    if (!aborted && msg.status == 0 && checks_enabled())
        checks_apply(&msg);
    if (!aborted && msg.status == 0 && !msg.discard)
        envelope_actions(&msg);
    if (!aborted && msg.status == 0 && !msg.discard)
        envelope_finish(&msg);
    if (!aborted && msg.status == 0 && !msg.discard)
        headers_finish(&msg);
    cleanup_msg_release(&msg);
    pn_stream_close(client);
    return 0;
}
