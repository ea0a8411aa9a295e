/* notice.c: a delivery status notification as RFC 3464 and RFC 6522 describe it: a
 * multipart/report with the template's text and one line per recipient, a
 * message/delivery-status part (Original-Envelope-Id, Reporting-MTA, Arrival-Date, then per
 * recipient Final-Recipient, Original-Recipient, Action, Status, Diagnostic-Code) and the
 * original message: whole for a failure notice to the sender unless RET=HDRS or it exceeds
 * bounce_size_limit, else its header only. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/cfparams.h"
#include "bounce.h"

static void rfc_date(time_t t, char *out, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, len, "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm);
}

/* from_field: the template's From with this host's name added to a bare local part
 * ("MAILER-DAEMON (Mail Delivery System)" -> "MAILER-DAEMON@host (Mail Delivery System)"). */
static void from_field(const pn_buf *from, const char *host, pn_buf *out)
{
    size_t word = strcspn(from->data, " \t<");
    if (memchr(from->data, '@', from->len) || from->data[word] == '<')
        pn_buf_append(out, from->data, from->len);
    else
        pn_buf_printf(out, "%.*s@%s%s", (int)word, from->data, host, from->data + word);
}

static int headers_only(enum notice_kind kind, const pn_qfile *q, int to_postmaster)
{
    if (kind != NOTICE_FAILURE || to_postmaster)
        return 1;
    pn_buf value = PN_BUF_INIT;
    const char *ret = pn_qfile_attr(q, "ret", &value);
    int hdrs = ret && strcmp(ret, "HDRS") == 0;
    pn_buf_release(&value);
    long limit = pn_config_get_int(PN_P(bounce_size_limit));
    return hdrs || (limit > 0 && q->content_len > (unsigned long)limit);
}

void notice_compose(enum notice_kind kind, const bounce_template *t, const char *id,
                    const pn_qfile *q, const char *sender, const notice_rcpt *r, int count,
                    const pn_buf *original, int to_postmaster, pn_buf *out)
{
    const char *host = pn_config_get_hostname(PN_P(myhostname));
    char date[64], boundary[128];
    rfc_date(q->arrival.tv_sec, date, sizeof(date));
    snprintf(boundary, sizeof(boundary), "%s.%ld/%s", id, (long)time(NULL), host);
    pn_buf_puts(out, "From: ");
    from_field(&t->from, host, out);
    pn_buf_printf(out, "\nSubject: %s\n",
                  to_postmaster && t->postmaster_subject.len ? t->postmaster_subject.data
                                                             : t->subject.data);
    pn_buf_printf(out, "To: %s\n", to_postmaster ? "postmaster" : sender);
    pn_buf_printf(out, "Auto-Submitted: %s\nMIME-Version: 1.0\n",
                  to_postmaster ? "auto-generated" : "auto-replied");
    pn_buf_printf(out,
                  "Content-Type: multipart/report; report-type=delivery-status;\n"
                  "\tboundary=\"%s\"\n\n",
                  boundary);
    pn_buf_puts(out, "This is a MIME-encapsulated message.\n\n");
    pn_buf_printf(out,
                  "--%s\nContent-Description: Notification\n"
                  "Content-Type: text/plain; charset=%s\n\n",
                  boundary, t->charset.len ? t->charset.data : "us-ascii");
    pn_buf_append(out, t->text.data, t->text.len);
    pn_buf_putc(out, '\n');
    for (int i = 0; i < count; i++)
        pn_buf_printf(out, "<%s>: %s\n", r[i].entry->addr.data, r[i].entry->reason.data);
    pn_buf_printf(out,
                  "\n--%s\nContent-Description: Delivery report\n"
                  "Content-Type: message/delivery-status\n\n",
                  boundary);
    pn_buf value = PN_BUF_INIT;
    const char *envid = pn_qfile_attr(q, "envid", &value);
    if (envid && *envid)
        pn_buf_printf(out, "Original-Envelope-Id: %s\n", envid);
    pn_buf_release(&value);
    pn_buf_printf(out, "Reporting-MTA: dns; %s\nX-Postfix-Queue-ID: %s\n", host, id);
    pn_buf_printf(out, "X-Postfix-Sender: rfc822; %s\nArrival-Date: %s\n", sender, date);
    for (int i = 0; i < count; i++) {
        const pn_bounce_entry *e = r[i].entry;
        pn_buf_printf(out, "\nFinal-Recipient: rfc822; %s\n", e->addr.data);
        if (r[i].orcpt && *r[i].orcpt)
            pn_buf_printf(out, "Original-Recipient: %s\n", r[i].orcpt);
        else if (e->orig.len && strcasecmp(e->orig.data, e->addr.data) != 0)
            pn_buf_printf(out, "Original-Recipient: rfc822;%s\n", e->orig.data);
        pn_buf_printf(out, "Action: %s\nStatus: %s\n", e->action.data, e->status.data);
        const char *said = strstr(e->reason.data, " said: ");
        if (said && strncmp(e->reason.data, "host ", 5) == 0) {
            /* "host H[A] said: 550 ... (in reply to ...)": the remote MTA's own words */
            const char *bracket = strchr(e->reason.data + 5, '[');
            int hlen = bracket && bracket < said ? (int)(bracket - e->reason.data - 5)
                                                 : (int)(said - e->reason.data - 5);
            pn_buf_printf(out, "Remote-MTA: dns; %.*s\n", hlen, e->reason.data + 5);
            const char *text = said + 7, *end = strstr(text, " (in reply to ");
            pn_buf_printf(out, "Diagnostic-Code: smtp; %.*s\n",
                          (int)(end ? (size_t)(end - text) : strlen(text)), text);
        } else {
            pn_buf_printf(out, "Diagnostic-Code: X-Postfix; %s\n", e->reason.data);
        }
    }
    if (headers_only(kind, q, to_postmaster)) {
        /* the header only: up to the first empty line */
        const char *end = memmem(original->data, original->len, "\n\n", 2);
        size_t n = end ? (size_t)(end - original->data) + 1 : original->len;
        pn_buf_printf(out,
                      "\n--%s\nContent-Description: %s\n"
                      "Content-Type: text/rfc822-headers\n\n",
                      boundary,
                      kind == NOTICE_SUCCESS || kind == NOTICE_REPORT
                          ? "Message Headers"
                          : "Undelivered Message Headers");
        pn_buf_append(out, original->data, n);
    } else {
        pn_buf_printf(out,
                      "\n--%s\nContent-Description: Undelivered Message\n"
                      "Content-Type: message/rfc822\n\n",
                      boundary);
        pn_buf_append(out, original->data, original->len);
    }
    pn_buf_printf(out, "\n--%s--\n", boundary);
}
