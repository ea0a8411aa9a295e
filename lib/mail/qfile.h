/* qfile.h: the MQ1 queue file (doc/queue.md): a 64-byte header, then typed records
 * (type:u8 len:u32be payload) in three segments: envelope up to M, content (H header fields,
 * B body pieces), extracted from X to E. The writer builds a file in memory and installs it
 * with one write and one fsync; the reader validates the envelope on every open and the
 * content (CRC32C) only when it reads it. */
#ifndef PN_MAIL_QFILE_H
#define PN_MAIL_QFILE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "base/buf.h"

#define PN_QF_HEADER_SIZE 64
#define PN_QF_MAX_RECORD (1024 * 1024)
#define PN_QF_BODY_PIECE 65536

/* Recipient status byte: at record offset + 5. */
#define PN_RCPT_TODO 'T'
#define PN_RCPT_DONE 'D'
#define PN_RCPT_CANCELED 'X'
#define PN_RCPT_STATUS_OFFSET 5

/* DSN NOTIFY bits. */
#define PN_NOTIFY_NEVER 1
#define PN_NOTIFY_SUCCESS 2
#define PN_NOTIFY_FAILURE 4
#define PN_NOTIFY_DELAY 8

typedef struct pn_qwriter {
    pn_buf file;
    struct timeval arrival;
    size_t content_off;
    size_t extract_off;
    uint64_t content_len; /* as logged: message bytes with one LF per line end */
    uint32_t rcpt_total;
    size_t body_record; /* offset of the open B record, or 0 */
    int64_t warn_time;  /* when a delay warning is due (0: never) */
} pn_qwriter;

void pn_qw_init(pn_qwriter *w, const struct timeval *arrival);
void pn_qw_release(pn_qwriter *w);
void pn_qw_attr(pn_qwriter *w, const char *name, const char *value);
void pn_qw_sender(pn_qwriter *w, const char *sender);
void pn_qw_rcpt(pn_qwriter *w, const char *addr, const char *orig, const char *orcpt, int notify);
void pn_qw_content(pn_qwriter *w);                               /* the M record */
void pn_qw_header(pn_qwriter *w, const char *field, size_t len); /* without the final LF */
void pn_qw_body(pn_qwriter *w, const char *data, size_t len);    /* LF line ends */
/* pn_qw_finish: X and E records and the header; the file is then complete in w->file. */
void pn_qw_finish(pn_qwriter *w);
/* pn_qw_install: write, fsync, release the creator's lock (pn_queue_create), chmod 0700
 * (complete). 0 or -1 with why. */
int pn_qw_install(pn_qwriter *w, int fd, pn_buf *why);

typedef struct pn_qrcpt {
    size_t offset; /* of the R record */
    int status;
    int notify;
    pn_buf addr;
    pn_buf orig;
    pn_buf orcpt;
} pn_qrcpt;

typedef struct pn_qfile {
    int fd;
    struct timeval arrival;
    uint64_t content_off;
    uint64_t content_len;
    uint64_t extract_off;
    uint32_t rcpt_total;
    int64_t warn_time;
    uint64_t file_len; /* offset of E */
    uint32_t content_crc;
    pn_buf envelope; /* bytes 64 .. content_off (records up to and including M) */
} pn_qfile;

/* pn_qfile_open: envelope validation of an open file; -1 with why: the file is corrupt. */
int pn_qfile_open(pn_qfile *q, int fd, pn_buf *why);
void pn_qfile_release(pn_qfile *q);
/* pn_qfile_next: the next envelope record after *pos (start with 0); 1, or 0 at M. */
int pn_qfile_next(const pn_qfile *q, size_t *pos, int *type, const char **payload, size_t *len);
/* pn_qfile_next_rcpt: the next well-formed R record after *pos (start with 0) into r, with
 * its offset in the file; with todo_only, only those still to do. 1, or 0 at the end of the
 * envelope. */
int pn_qfile_next_rcpt(const pn_qfile *q, size_t *pos, int todo_only, pn_qrcpt *r);
/* pn_qfile_attr: an A record's value; NULL when absent. */
const char *pn_qfile_attr(const pn_qfile *q, const char *name, pn_buf *out);
/* pn_qfile_sender: the S record. */
int pn_qfile_sender(const pn_qfile *q, pn_buf *out);
/* pn_qfile_rcpt_parse: an R payload. */
int pn_qfile_rcpt_parse(const char *payload, size_t len, size_t offset, pn_qrcpt *r);
void pn_qrcpt_init(pn_qrcpt *r);
void pn_qrcpt_release(pn_qrcpt *r);
/* pn_qfile_read_content: the message as text with LF line ends, checked against the CRC;
 * -1 with why when it does not match (the file is then corrupt). */
int pn_qfile_read_content(const pn_qfile *q, pn_buf *out, pn_buf *why);
/* pn_qfile_mark: set the status byte of the R record at offset, which must be TODO. */
int pn_qfile_mark(int fd, size_t offset, int status, pn_buf *why);
/* pn_qfile_set_warn_time: rewrite the header's warn_time and checksum (one 12-byte write). */
int pn_qfile_set_warn_time(int fd, int64_t when, pn_buf *why);

#endif
