/* transcript.c: the session transcript behind notify_classes. smtpd records what it reads
 * and answers ("In:" and "Out:" lines, not message content, up to a bound), notes the class
 * of every error reply (resource, software, protocol, policy), and at the end of a session
 * with an error of a class that notify_classes lists sends the transcript to
 * error_notice_recipient, from the double-bounce sender (so that it never bounces back). */
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "smtpd.h"

#define TRANSCRIPT_LIMIT 65536

static const char *const class_names[] = {"resource", "software", "protocol", "policy"};

void transcript_add(smtpd_session *s, const char *direction, const char *text, size_t len)
{
    while (len > 0 && s->transcript.len < TRANSCRIPT_LIMIT) {
        const char *nl = memchr(text, '\n', len);
        size_t n = nl ? (size_t)(nl - text) : len;
        size_t shown = n && text[n - 1] == '\r' ? n - 1 : n;
        pn_buf_printf(&s->transcript, " %s %.*s\n", direction, (int)shown, text);
        len -= n + (nl != NULL);
        text += n + (nl != NULL);
    }
}

/* reply_class: what kind of trouble an error reply reports; -1 for none of them. */
static int reply_class(const char *reply)
{
    if (strstr(reply, "queue file write error") || strncmp(reply, "452 4.3.1", 9) == 0)
        return ERROR_RESOURCE;
    if (strstr(reply, "internal protocol error") || strstr(reply, "configuration error") ||
        strstr(reply, "Temporary lookup failure"))
        return ERROR_SOFTWARE;
    if (strncmp(reply, "50", 2) == 0 || strncmp(reply, "521", 3) == 0 ||
        strncmp(reply, "554 5.5", 7) == 0)
        return ERROR_PROTOCOL;
    if (strlen(reply) > 8 &&
        (strncmp(reply + 4, "5.7.", 4) == 0 || strncmp(reply + 4, "4.7.", 4) == 0))
        return ERROR_POLICY;
    return -1;
}

void transcript_reply(smtpd_session *s, const char *reply, size_t len)
{
    transcript_add(s, "Out:", reply, len);
    int c = reply[0] == '4' || reply[0] == '5' ? reply_class(reply) : -1;
    if (c >= 0)
        s->error_classes |= 1 << c;
}

void transcript_send(smtpd_session *s)
{
    if (s->error_classes == 0)
        return;
    int hit = 0;
    for (int c = 0; c < 4; c++)
        hit |= (s->error_classes & (1 << c)) &&
               pn_config_list_has(PN_P(notify_classes), class_names[c]);
    if (!hit)
        return;
    pn_buf msg = PN_BUF_INIT, why = PN_BUF_INIT;
    const char *to = pn_config_get(PN_P(error_notice_recipient));
    pn_buf_printf(&msg, "From: %s (Mail Delivery System)\n",
                  pn_config_get(PN_P(double_bounce_sender)));
    pn_buf_printf(&msg, "To: %s (Postmaster)\n", to);
    pn_buf_printf(&msg, "Subject: %s SMTP server: errors from %s\n", pn_config_get(PN_P(mail_name)),
                  s->namaddr.data);
    pn_buf_puts(&msg, "Auto-Submitted: auto-generated\n\nTranscript of session follows.\n\n");
    pn_buf_append(&msg, s->transcript.data, s->transcript.len);
    if (s->transcript.len >= TRANSCRIPT_LIMIT)
        pn_buf_puts(&msg, " (the rest of the transcript is left out)\n");
    pn_buf_puts(&msg, "\nFor other details, see the local mail logfile\n");
    if (submit_notice(pn_config_get(PN_P(double_bounce_sender)), to, &msg, &why) < 0)
        pn_warn("errors from %s: the postmaster was not told: %s", s->namaddr.data, why.data);
    pn_buf_release(&msg);
    pn_buf_release(&why);
}
