/* params.c: the ESMTP parameters of MAIL FROM (SIZE, BODY, RET, ENVID, SMTPUTF8, AUTH) and of
 * RCPT TO (NOTIFY, ORCPT, RFC 3461), checked with the reference's replies. Values are kept
 * decoded; they reach the queue file through cleanup. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "config/cfparams.h"
#include "base/codec.h"
#include "mail/dsn.h"
#include "smtpd.h"

/* next_param: the next blank-separated "NAME[=VALUE]" of *p; 0 at the end. */
static int next_param(const char **p, char *name, size_t name_len, const char **value,
                      size_t *value_len)
{
    while (**p == ' ')
        (*p)++;
    if (**p == 0)
        return 0;
    size_t n = strcspn(*p, " ");
    size_t k = strcspn(*p, "= ");
    if (k >= name_len)
        k = name_len - 1;
    memcpy(name, *p, k);
    name[k] = 0;
    if ((*p)[k] == '=') {
        *value = *p + k + 1;
        *value_len = n - k - 1;
    } else {
        *value = NULL;
        *value_len = 0;
    }
    *p += n;
    return 1;
}

static int is_word(const char *v, size_t n, const char *word)
{
    return v && strlen(word) == n && strncasecmp(v, word, n) == 0;
}

int smtpd_mail_params(smtpd_session *s, const char *params, pn_buf *reply)
{
    char name[32];
    const char *v;
    size_t n;
    while (next_param(&params, name, sizeof(name), &v, &n)) {
        if (strcasecmp(name, "SIZE") == 0) {
            if (v == NULL || n == 0 || strspn(v, "0123456789") < n) {
                pn_buf_set(reply, "501 5.5.4 Bad message size syntax");
                return -1;
            }
            s->message_size = n > 18 ? -1 : strtol(v, NULL, 10); /* -1: beyond any limit */
        } else if (strcasecmp(name, "BODY") == 0) {
            if (is_word(v, n, "8BITMIME"))
                snprintf(s->encoding, sizeof(s->encoding), "8bit");
            else if (is_word(v, n, "7BIT"))
                snprintf(s->encoding, sizeof(s->encoding), "7bit");
            else {
                pn_buf_set(reply, "501 5.5.4 Unsupported BODY parameter");
                return -1;
            }
        } else if (strcasecmp(name, "RET") == 0) {
            if (s->ret[0]) {
                pn_buf_set(reply, "501 5.5.4 Duplicate RET parameter");
                return -1;
            }
            if (is_word(v, n, "FULL") || is_word(v, n, "HDRS")) {
                snprintf(s->ret, sizeof(s->ret), "%.4s", v);
                for (char *c = s->ret; *c; c++)
                    *c = (char)toupper((unsigned char)*c);
            } else {
                pn_buf_set(reply, "501 5.5.4 Bad RET parameter syntax");
                return -1;
            }
        } else if (strcasecmp(name, "ENVID") == 0) {
            if (s->envid.len) {
                pn_buf_set(reply, "501 5.5.4 Duplicate ENVID parameter");
                return -1;
            }
            if (v == NULL || n == 0 || n > 100 || pn_xtext_decode(v, n, &s->envid) < 0) {
                pn_buf_reset(&s->envid);
                pn_buf_set(reply, "501 5.5.4 Bad ENVID parameter syntax");
                return -1;
            }
        } else if (strcasecmp(name, "SMTPUTF8") == 0 && v == NULL &&
                   strcasecmp(pn_config_get(PN_P(smtputf8_enable)), "yes") == 0) {
            s->smtputf8 = 1;
        } else if (strcasecmp(name, "AUTH") == 0 && v) {
            /* the original submitter's identity: kept (as sent) from an authenticated client */
            if (s->sasl_username.len) {
                pn_buf_reset(&s->sasl_sender);
                pn_buf_append(&s->sasl_sender, v, n);
            }
        } else {
            pn_buf_reset(reply);
            pn_buf_printf(reply, "555 5.5.4 Unsupported option: %s", name);
            return -1;
        }
    }
    return 0;
}

int smtpd_rcpt_params(const char *params, int *notify, pn_buf *orcpt, pn_buf *reply)
{
    char name[32];
    const char *v;
    size_t n;
    *notify = 0;
    pn_buf_reset(orcpt);
    while (next_param(&params, name, sizeof(name), &v, &n)) {
        if (strcasecmp(name, "NOTIFY") == 0) {
            char list[64];
            if (*notify || v == NULL || n == 0 || n >= sizeof(list)) {
                pn_buf_set(reply, "501 5.5.4 Error: Bad NOTIFY parameter syntax");
                return -1;
            }
            memcpy(list, v, n);
            list[n] = 0;
            if ((*notify = pn_dsn_notify_parse(list)) <= 0) {
                *notify = 0;
                pn_buf_set(reply, "501 5.5.4 Error: Bad NOTIFY parameter syntax");
                return -1;
            }
        } else if (strcasecmp(name, "ORCPT") == 0) {
            /* addr-type ";" xtext, kept as "type;decoded" */
            const char *semi = v ? memchr(v, ';', n) : NULL;
            pn_buf addr = PN_BUF_INIT;
            int bad = orcpt->len || semi == NULL || semi == v || n > 500;
            for (const char *c = v; !bad && c < semi; c++)
                bad = !isalnum((unsigned char)*c) && *c != '-';
            if (!bad)
                bad = pn_xtext_decode(semi + 1, n - (size_t)(semi + 1 - v), &addr) < 0 ||
                      addr.len == 0;
            if (bad) {
                pn_buf_release(&addr);
                pn_buf_reset(orcpt);
                pn_buf_set(reply, "501 5.5.4 Error: Bad ORCPT parameter syntax");
                return -1;
            }
            pn_buf_append(orcpt, v, (size_t)(semi - v));
            for (size_t i = 0; i < orcpt->len; i++)
                orcpt->data[i] = (char)tolower((unsigned char)orcpt->data[i]);
            pn_buf_putc(orcpt, ';');
            pn_buf_append(orcpt, addr.data, addr.len);
            pn_buf_release(&addr);
        } else {
            pn_buf_reset(reply);
            pn_buf_printf(reply, "555 5.5.4 Unsupported option: %s", name);
            return -1;
        }
    }
    return 0;
}
