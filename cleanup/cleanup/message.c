/* message.c: a cleanup_msg made, released and asked for its client attributes; the parts of
 * cleanup share it, and so does its fuzz target. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

const char *cleanup_attr(const cleanup_msg *msg, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < msg->attrs->len; i++)
        if (strncmp(msg->attrs->items[i], name, n) == 0 && msg->attrs->items[i][n] == '=')
            return msg->attrs->items[i] + n + 1;
    return NULL;
}

void cleanup_msg_init(cleanup_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    pn_buf_init(&msg->queue_id);
    pn_buf_init(&msg->reason);
    pn_buf_init(&msg->sender);
    pn_buf_init(&msg->body);
    msg->attrs = pn_argv_new();
    msg->headers = pn_argv_new();
    msg->bcc = pn_argv_new();
    pn_buf_init(&msg->redirect);
    pn_buf_init(&msg->filter);
    msg->fd = -1;
}

void cleanup_msg_release(cleanup_msg *msg)
{
    for (size_t i = 0; i < msg->rcpt_count; i++) {
        free(msg->rcpts[i].addr);
        free(msg->rcpts[i].orig);
        free(msg->rcpts[i].orcpt);
    }
    free(msg->rcpts);
    pn_argv_free(msg->attrs);
    pn_argv_free(msg->headers);
    pn_argv_free(msg->bcc);
    pn_buf_release(&msg->redirect);
    pn_buf_release(&msg->filter);
    pn_buf_release(&msg->queue_id);
    pn_buf_release(&msg->reason);
    pn_buf_release(&msg->sender);
    pn_buf_release(&msg->body);
    if (msg->fd >= 0)
        close(msg->fd);
}
