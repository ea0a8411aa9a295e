/* sasl_dovecot.c: the "dovecot" SASL back end: Dovecot's authentication protocol (version 1)
 * on the UNIX socket smtpd_sasl_path (relative to the queue directory, the chroot). One
 * connection per process, opened on the first session that needs it and kept; a broken one
 * is opened again for the next session. Lines are TAB separated:
 *   client: VERSION 1 1, CPID pid; server: VERSION, MECH name flags..., SPID, CUID, COOKIE, DONE
 *   AUTH id mech service=smtp nologin lip= rip= [secured] [resp=base64]
 *   server: OK id user=..., CONT id base64, FAIL id [reason=...] [temp] [user=...] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/stream.h"
#include "base/strutil.h"
#include "mail/sasl_backend.h"

/* How long one answer from the auth server may take (Dovecot delays failures by 2 s). */
#define DOVECOT_TIMEOUT_MS 30000
#define DOVECOT_LINE_LIMIT 65536
#define DOVECOT_MECHS 64   /* mechanisms kept from the handshake */
#define DOVECOT_LINES 1000 /* lines of a handshake, or skipped before an answer */

enum {
    MECH_ANONYMOUS = 1,
    MECH_PLAINTEXT = 2,
    MECH_DICTIONARY = 4,
    MECH_ACTIVE = 8,
    MECH_FORWARD_SECRECY = 16,
    MECH_MUTUAL_AUTH = 32,
    MECH_PRIVATE = 64
};

typedef struct mech {
    char *name;
    int flags;
} mech;

/* The process's connection and what the server offered on it. */
static struct {
    char *path;
    pn_stream *stream;
    mech *mechs;
    size_t mech_count;
    unsigned long next_id;
} auth;

typedef struct dovecot_session {
    pn_sasl_conn conn; /* strings copied */
    int security;
    unsigned long id; /* of the exchange in progress; 0 when none */
    char *username;
} dovecot_session;

static int dovecot_init(const char *path, pn_buf *why)
{
    (void)why;
    free(auth.path);
    auth.path = pn_strdup(path);
    return 0;
}

static void disconnect(void)
{
    if (auth.stream)
        pn_stream_close(auth.stream);
    auth.stream = NULL;
    for (size_t i = 0; i < auth.mech_count; i++)
        free(auth.mechs[i].name);
    free(auth.mechs);
    auth.mechs = NULL;
    auth.mech_count = 0;
}

/* mech_flags: the words after a MECH name. */
static int mech_flags(char **words, size_t count)
{
    static const struct {
        const char *name;
        int flag;
    } known[] = {{"anonymous", MECH_ANONYMOUS},
                 {"plaintext", MECH_PLAINTEXT},
                 {"dictionary", MECH_DICTIONARY},
                 {"active", MECH_ACTIVE},
                 {"forward-secrecy", MECH_FORWARD_SECRECY},
                 {"mutual-auth", MECH_MUTUAL_AUTH},
                 {"private", MECH_PRIVATE}};
    int flags = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            if (strcmp(words[i], known[k].name) == 0)
                flags |= known[k].flag;
    return flags;
}

/* handshake: our VERSION and CPID, then the server's lines up to DONE. */
static int handshake(pn_buf *why)
{
    pn_buf line = PN_BUF_INIT;
    int rc = -1, version_ok = 0;
    pn_stream_printf(auth.stream, "VERSION\t1\t1\nCPID\t%ld\n", (long)getpid());
    if (pn_stream_flush(auth.stream) < 0) {
        pn_buf_printf(why, "write %s: %s", auth.path, strerror(errno));
        goto out;
    }
    for (int lines = 0;; lines++) {
        int got = lines < DOVECOT_LINES ? pn_stream_get_line(auth.stream, &line, DOVECOT_LINE_LIMIT)
                                        : PN_LINE_EOF;
        if (got != PN_LINE_OK) {
            pn_buf_printf(why, "read %s: %s", auth.path,
                          got == PN_LINE_ERROR ? strerror(errno) : "unexpected end of input");
            goto out;
        }
        pn_argv *words = pn_argv_split(line.data, "\t");
        if (words->len == 0) {
            pn_argv_free(words);
            continue;
        }
        const char *kind = words->items[0];
        if (strcmp(kind, "VERSION") == 0) {
            version_ok = words->len >= 2 && strcmp(words->items[1], "1") == 0;
        } else if (strcmp(kind, "MECH") == 0 && words->len >= 2 &&
                   auth.mech_count < DOVECOT_MECHS) {
            auth.mechs = pn_reallocarray(auth.mechs, auth.mech_count + 1, sizeof(mech));
            auth.mechs[auth.mech_count].name = pn_strdup(words->items[1]);
            auth.mechs[auth.mech_count++].flags = mech_flags(words->items + 2, words->len - 2);
        } else if (strcmp(kind, "DONE") == 0) {
            pn_argv_free(words);
            break;
        }
        pn_argv_free(words);
    }
    if (!version_ok) {
        pn_buf_printf(why, "%s: authentication server protocol version is not 1", auth.path);
        goto out;
    }
    rc = 0;
out:
    pn_buf_release(&line);
    return rc;
}

static int connect_auth(pn_buf *why)
{
    if (auth.stream)
        return 0;
    pn_buf err = PN_BUF_INIT;
    int fd = pn_sock_connect_unix(auth.path, &err);
    if (fd < 0) {
        pn_buf_printf(why, "Connect to %s failed: %s", auth.path, err.data);
        pn_buf_release(&err);
        return -1;
    }
    pn_buf_release(&err);
    auth.stream = pn_stream_fdopen(fd);
    pn_stream_set_timeout(auth.stream, DOVECOT_TIMEOUT_MS);
    if (handshake(why) < 0) {
        disconnect();
        return -1;
    }
    return 0;
}

static void *dovecot_open(const pn_sasl_conn *conn, pn_buf *why)
{
    if (connect_auth(why) < 0)
        return NULL;
    dovecot_session *d = pn_calloc(1, sizeof(*d));
    d->conn.service = pn_strdup(conn->service);
    d->conn.server_addr = pn_strdup(conn->server_addr);
    d->conn.client_addr = pn_strdup(conn->client_addr);
    d->conn.server_port = pn_strdup(conn->server_port);
    d->conn.client_port = pn_strdup(conn->client_port);
    d->conn.tls = conn->tls;
    pn_buf ignored = PN_BUF_INIT;
    d->security = pn_sasl_security_parse(conn->security, &ignored); /* checked at start */
    pn_buf_release(&ignored);
    if (d->security < 0)
        d->security = PN_SASL_SEC_NOANONYMOUS;
    return d;
}

/* allowed: the mechanism is public and the security options do not exclude it. */
static int allowed(const dovecot_session *d, const mech *m)
{
    if (m->flags & MECH_PRIVATE)
        return 0;
    if ((d->security & PN_SASL_SEC_NOPLAINTEXT) && (m->flags & MECH_PLAINTEXT))
        return 0;
    if ((d->security & PN_SASL_SEC_NOANONYMOUS) && (m->flags & MECH_ANONYMOUS))
        return 0;
    if ((d->security & PN_SASL_SEC_NODICTIONARY) && (m->flags & MECH_DICTIONARY))
        return 0;
    if ((d->security & PN_SASL_SEC_NOACTIVE) && (m->flags & MECH_ACTIVE))
        return 0;
    if ((d->security & PN_SASL_SEC_FORWARD_SECRECY) && !(m->flags & MECH_FORWARD_SECRECY))
        return 0;
    if ((d->security & PN_SASL_SEC_MUTUAL_AUTH) && !(m->flags & MECH_MUTUAL_AUTH))
        return 0;
    return 1;
}

static int dovecot_mechs(void *impl, pn_buf *mechs, pn_buf *why)
{
    dovecot_session *d = impl;
    if (connect_auth(why) < 0)
        return -1;
    for (size_t i = 0; i < auth.mech_count; i++)
        if (allowed(d, &auth.mechs[i]))
            pn_buf_printf(mechs, "%s%s", mechs->len ? " " : "", auth.mechs[i].name);
    return 0;
}

/* unescape: Dovecot's TAB escaping (\001 followed by 1, t, r, n or 0). */
static char *unescape(const char *value)
{
    char *out = pn_strdup(value), *w = out;
    for (const char *r = value; *r; r++) {
        if (*r == '\001' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'r' ? '\r' : *r == 'n' ? '\n' : *r == '1' ? '\001' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return out;
}

/* answer: the server's reply to our request d->id. */
static enum pn_sasl_status answer(dovecot_session *d, pn_buf *text)
{
    pn_buf line = PN_BUF_INIT;
    for (int lines = 0;; lines++) {
        int got = lines < DOVECOT_LINES ? pn_stream_get_line(auth.stream, &line, DOVECOT_LINE_LIMIT)
                                        : PN_LINE_EOF;
        if (got != PN_LINE_OK) {
            pn_warn("SASL: read %s: %s", auth.path,
                    got == PN_LINE_ERROR ? strerror(errno) : "unexpected end of input");
            disconnect();
            pn_buf_release(&line);
            d->id = 0;
            pn_buf_set(text, "Connection lost to authentication server");
            return PN_SASL_TEMP;
        }
        /* an empty challenge is no field: words->len is then 2 */
        pn_argv *words = pn_argv_split(line.data, "\t");
        if (words->len >= 2 && strtoul(words->items[1], NULL, 10) == d->id) {
            enum pn_sasl_status status = PN_SASL_FAIL;
            const char *reason = NULL;
            int temp = 0;
            for (size_t i = 2; i < words->len; i++) {
                const char *w = words->items[i];
                if (pn_has_prefix(w, "user=")) {
                    free(d->username);
                    d->username = unescape(w + 5);
                } else if (pn_has_prefix(w, "reason=")) {
                    reason = w + 7;
                } else if (strcmp(w, "temp") == 0) {
                    temp = 1;
                }
            }
            if (strcmp(words->items[0], "OK") == 0) {
                status = d->username ? PN_SASL_DONE : PN_SASL_FAIL;
                if (d->username == NULL)
                    pn_buf_set(text, "authentication server did not name the user");
                d->id = 0;
            } else if (strcmp(words->items[0], "CONT") == 0) {
                status = PN_SASL_MORE;
                pn_buf_set(text, words->len >= 3 ? words->items[2] : "");
            } else {
                status = temp ? PN_SASL_TEMP : PN_SASL_FAIL;
                char *r = reason ? unescape(reason) : NULL;
                pn_buf_set(text, r ? r : "(reason unavailable)");
                free(r);
                d->id = 0;
            }
            pn_argv_free(words);
            pn_buf_release(&line);
            return status;
        }
        pn_argv_free(words); /* an answer to an earlier, abandoned request */
    }
}

static enum pn_sasl_status send_request(dovecot_session *d, pn_buf *request, pn_buf *text)
{
    pn_buf why = PN_BUF_INIT;
    if (connect_auth(&why) < 0) {
        pn_warn("SASL: %s", why.data);
        pn_buf_release(&why);
        pn_buf_set(text, "Connection lost to authentication server");
        return PN_SASL_TEMP;
    }
    pn_buf_release(&why);
    if (pn_stream_write(auth.stream, request->data, request->len) < 0 ||
        pn_stream_flush(auth.stream) < 0) {
        pn_warn("SASL: write %s: %s", auth.path, strerror(errno));
        disconnect();
        pn_buf_set(text, "Connection lost to authentication server");
        return PN_SASL_TEMP;
    }
    return answer(d, text);
}

static enum pn_sasl_status dovecot_start(void *impl, const char *name, const char *initial,
                                         pn_buf *text)
{
    dovecot_session *d = impl;
    const mech *m = NULL;
    for (size_t i = 0; i < auth.mech_count; i++)
        if (strcasecmp(auth.mechs[i].name, name) == 0 && allowed(d, &auth.mechs[i]))
            m = &auth.mechs[i];
    if (m == NULL) {
        pn_buf_set(text, "Invalid authentication mechanism");
        return PN_SASL_FAIL;
    }
    free(d->username);
    d->username = NULL;
    d->id = ++auth.next_id;
    pn_buf request = PN_BUF_INIT;
    pn_buf_printf(&request, "AUTH\t%lu\t%s\tservice=%s\tnologin", d->id, m->name, d->conn.service);
    if (*d->conn.server_addr)
        pn_buf_printf(&request, "\tlip=%s\tlport=%s", d->conn.server_addr, d->conn.server_port);
    if (*d->conn.client_addr)
        pn_buf_printf(&request, "\trip=%s\trport=%s", d->conn.client_addr, d->conn.client_port);
    if (d->conn.tls)
        pn_buf_puts(&request, "\tsecured");
    if (initial)
        pn_buf_printf(&request, "\tresp=%s", strcmp(initial, "=") == 0 ? "" : initial);
    pn_buf_putc(&request, '\n');
    enum pn_sasl_status status = send_request(d, &request, text);
    pn_buf_release(&request);
    return status;
}

static enum pn_sasl_status dovecot_next(void *impl, const char *response, pn_buf *text)
{
    dovecot_session *d = impl;
    pn_buf request = PN_BUF_INIT;
    pn_buf_printf(&request, "CONT\t%lu\t%s\n", d->id, strcmp(response, "=") == 0 ? "" : response);
    enum pn_sasl_status status = send_request(d, &request, text);
    pn_buf_release(&request);
    return status;
}

static const char *dovecot_username(const void *impl)
{
    const dovecot_session *d = impl;
    return d->username;
}

static void dovecot_close(void *impl)
{
    dovecot_session *d = impl;
    free((char *)d->conn.service);
    free((char *)d->conn.server_addr);
    free((char *)d->conn.client_addr);
    free((char *)d->conn.server_port);
    free((char *)d->conn.client_port);
    free(d->username);
    free(d);
}

const pn_sasl_backend pn_sasl_dovecot = {"dovecot",        dovecot_init,  dovecot_open,
                                         dovecot_mechs,    dovecot_start, dovecot_next,
                                         dovecot_username, dovecot_close};
