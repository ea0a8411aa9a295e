/* sendmail.h: the parts of the sendmail command. */
#ifndef PN_SENDMAIL_H
#define PN_SENDMAIL_H
#include "base/argv.h"
#include "base/buf.h"

typedef struct post_options {
    int extract;           /* -t: recipients from the header as well */
    int notify;            /* -N, as PN_NOTIFY_* bits (0: not given) */
    const char *ret;       /* -R: "FULL" or "HDRS", or NULL */
    const char *envid;     /* -V, or NULL */
    const char *trace;     /* "record" (-v) or "verify" (-bv), or NULL */
    const char *full_name; /* -F, $NAME or the account's, for a From: cleanup adds */
} post_options;

/* post.c */
/* header_addresses: the addresses in one header value ("A <a@x>, b@y"), appended. */
void header_addresses(const char *value, pn_argv *out);
/* post_message: the message (LF line ends) through postdrop; 0, or the exit status. */
int post_message(const post_options *o, const char *sender, pn_argv *rcpts, const pn_buf *msg);

/* smtp_stdio.c: -bs, SMTP on standard input and output; the exit status. */
int smtp_stdio(const post_options *o);

#endif
