/* check_queue.c: unit tests for queue IDs, queue paths, the DSN parameters queue files keep
 * (NOTIFY lists, xtext) and the MQ1 file format: round trip,
 * status updates, and corruption of every kind (which must be detected, never crash). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/codec.h"
#include "mail/dsn.h"
#include "mail/qfile.h"
#include "mail/qpath.h"
#include "units.h"

START_TEST(queue_ids)
{
    struct timeval tv = {1700000000, 0xC3CD2};
    pn_buf id = PN_BUF_INIT;
    pn_qid_make(&tv, 0x1F3E90, 0, &id);
    ck_assert_str_eq(id.data, "C3CD21F3E90");
    ck_assert(pn_qid_valid(id.data));
    pn_qid_make(&tv, 123456, 1, &id);
    ck_assert(strchr(id.data, 'z') != NULL);
    ck_assert(pn_qid_valid(id.data));
    ck_assert(!pn_qid_valid("../etc"));
    ck_assert(!pn_qid_valid("ABC"));
    ck_assert(!pn_qid_valid("ABCDEF/G"));
    /* both forms parse back into what they were made from */
    struct timeval back;
    unsigned long long ino;
    int long_form;
    ck_assert_int_eq(pn_qid_parse(id.data, &back, &ino, &long_form), 0);
    ck_assert(long_form && ino == 123456 && back.tv_sec == tv.tv_sec && back.tv_usec == tv.tv_usec);
    pn_qid_make(&tv, 0x1F3E90, 0, &id);
    ck_assert_int_eq(pn_qid_parse(id.data, &back, &ino, &long_form), 0);
    ck_assert(!long_form && ino == 0x1F3E90 && back.tv_usec == tv.tv_usec);
    ck_assert_int_eq(pn_qid_parse("FFFFF12", &back, &ino, &long_form), -1); /* usec > 1e6 */
    ck_assert_int_eq(pn_qid_parse("hello!", &back, &ino, &long_form), -1);
    pn_buf_release(&id);
    ck_assert_uint_eq(pn_crc32c(0, "123456789", 9), 0xE3069283u);
}
END_TEST

/* crc32c_bitwise: the definition, one bit at a time, to check the fast forms against. */
static uint32_t crc32c_bitwise(uint32_t crc, const unsigned char *p, size_t len)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

START_TEST(crc32c_every_length_and_alignment)
{
    unsigned char data[4200];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 131 + (i >> 7));
    for (size_t start = 0; start < 8; start++) {
        for (size_t len = 0; len <= 64; len++)
            ck_assert_uint_eq(pn_crc32c(0, data + start, len),
                              crc32c_bitwise(0, data + start, len));
        size_t len = sizeof(data) - start;
        ck_assert_uint_eq(pn_crc32c(0, data + start, len), crc32c_bitwise(0, data + start, len));
        /* continued over two pieces: the same as over the whole */
        uint32_t half = pn_crc32c(0, data + start, 1001);
        ck_assert_uint_eq(pn_crc32c(half, data + start + 1001, len - 1001),
                          crc32c_bitwise(0, data + start, len));
    }
}
END_TEST

static void build(pn_qwriter *w, size_t body_size)
{
    struct timeval tv = {1700000000, 42};
    pn_qw_init(w, &tv);
    pn_qw_attr(w, "rewrite_context", "remote");
    pn_qw_attr(w, "client_addr", "192.0.2.1");
    pn_qw_sender(w, "sender@example.org");
    pn_qw_rcpt(w, "a@example.com", "A@Example.com", "rfc822;A@Example.com", PN_NOTIFY_FAILURE);
    pn_qw_rcpt(w, "b@example.com", NULL, NULL, 0);
    pn_qw_content(w);
    pn_qw_header(w, "Subject: test", 13);
    pn_qw_header(w, "X-Folded: a\n\tb", 14);
    char *body = malloc(body_size + 1);
    for (size_t i = 0; i < body_size; i++)
        body[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
    pn_qw_body(w, body, body_size);
    free(body);
    pn_qw_finish(w);
}

static int write_file(pn_qwriter *w)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/qf", unit_tmpdir());
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    pn_buf why = PN_BUF_INIT;
    ck_assert_int_eq(pn_qw_install(w, fd, &why), 0);
    pn_buf_release(&why);
    return fd;
}

START_TEST(round_trip_and_marks)
{
    pn_qwriter w;
    build(&w, 200000); /* several B records */
    int fd = write_file(&w);
    pn_qfile q;
    pn_buf why = PN_BUF_INIT, v = PN_BUF_INIT, content = PN_BUF_INIT;
    ck_assert_msg(pn_qfile_open(&q, fd, &why) == 0, "%s", why.data);
    ck_assert_uint_eq(q.rcpt_total, 2);
    ck_assert_uint_eq(q.content_len, 13 + 1 + 14 + 1 + 1 + 200000);
    ck_assert_str_eq(pn_qfile_attr(&q, "client_addr", &v), "192.0.2.1");
    ck_assert_ptr_null(pn_qfile_attr(&q, "client", &v));
    ck_assert_int_eq(pn_qfile_sender(&q, &v), 1);
    ck_assert_str_eq(v.data, "sender@example.org");
    size_t pos = 0, len, first_rcpt = 0;
    int type, n = 0;
    const char *payload;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    for (size_t at = pos; pn_qfile_next(&q, &pos, &type, &payload, &len); at = pos) {
        if (type != 'R')
            continue;
        ck_assert_int_eq(pn_qfile_rcpt_parse(payload, len, PN_QF_HEADER_SIZE + at, &r), 0);
        if (n++ == 0) {
            first_rcpt = r.offset;
            ck_assert_str_eq(r.addr.data, "a@example.com");
            ck_assert_str_eq(r.orcpt.data, "rfc822;A@Example.com");
            ck_assert_int_eq(r.notify, PN_NOTIFY_FAILURE);
            ck_assert_int_eq(r.status, PN_RCPT_TODO);
        }
    }
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(pn_qfile_read_content(&q, &content, &why), 0);
    ck_assert_uint_eq(content.len, q.content_len);
    ck_assert(strncmp(content.data, "Subject: test\nX-Folded: a\n\tb\n\nabc", 33) == 0);
    ck_assert_int_eq(pn_qfile_mark(fd, first_rcpt, PN_RCPT_DONE, &why), 0);
    ck_assert_int_eq(pn_qfile_mark(fd, first_rcpt, PN_RCPT_DONE, &why), -1); /* not TODO */
    ck_assert_int_eq(pn_qfile_mark(fd, first_rcpt + 1, PN_RCPT_DONE, &why), -1);
    pn_qfile_release(&q);
    ck_assert_int_eq(pn_qfile_open(&q, fd, &why), 0); /* status bytes are outside the CRCs */
    pn_qfile_release(&q);
    pn_qrcpt_release(&r);
    close(fd);
    pn_qw_release(&w);
    pn_buf_release(&why);
    pn_buf_release(&v);
    pn_buf_release(&content);
}
END_TEST

START_TEST(corruption_is_detected)
{
    pn_qwriter w;
    build(&w, 3000);
    size_t size = w.file.len;
    char *good = malloc(size);
    memcpy(good, w.file.data, size);
    srand(7);
    int detected = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(w.file.data, good, size);
        /* Any byte of the header, the content or the extracted segment; envelope payloads
         * are not checksummed (their record structure is checked in another round). */
        size_t at = (size_t)rand() % (size - w.content_off + PN_QF_HEADER_SIZE);
        if (at >= PN_QF_HEADER_SIZE)
            at += w.content_off - PN_QF_HEADER_SIZE;
        w.file.data[at] ^= (char)(1 + rand() % 255);
        if (round % 10 == 0)
            w.file.len = (size_t)rand() % size; /* truncated */
        else
            w.file.len = size;
        int fd = write_file(&w);
        pn_qfile q;
        pn_buf why = PN_BUF_INIT, content = PN_BUF_INIT;
        int ok = pn_qfile_open(&q, fd, &why) == 0 && pn_qfile_read_content(&q, &content, &why) == 0;
        if (!ok)
            detected++;
        pn_qfile_release(&q);
        close(fd);
        pn_buf_release(&why);
        pn_buf_release(&content);
    }
    ck_assert_int_eq(detected, 3000);
    w.file.len = size;
    memcpy(w.file.data, good, size);
    free(good);
    pn_qw_release(&w);
}
END_TEST

START_TEST(dsn_parameters)
{
    ck_assert_int_eq(pn_dsn_notify_parse("never"), PN_NOTIFY_NEVER);
    ck_assert_int_eq(pn_dsn_notify_parse("SUCCESS,delay"), PN_NOTIFY_SUCCESS | PN_NOTIFY_DELAY);
    ck_assert_int_eq(pn_dsn_notify_parse("NEVER,SUCCESS"), -1);
    ck_assert_int_eq(pn_dsn_notify_parse("SUCCESS,"), -1);
    ck_assert_int_eq(pn_dsn_notify_parse(""), -1);
    pn_buf out = PN_BUF_INIT;
    pn_dsn_notify_format(PN_NOTIFY_FAILURE | PN_NOTIFY_SUCCESS, &out);
    ck_assert_str_eq(out.data, "SUCCESS,FAILURE");
    /* no NOTIFY: failure and delay notices, no success notice */
    ck_assert(pn_dsn_wants(0, PN_NOTIFY_FAILURE) && pn_dsn_wants(0, PN_NOTIFY_DELAY));
    ck_assert(!pn_dsn_wants(0, PN_NOTIFY_SUCCESS));
    ck_assert(!pn_dsn_wants(PN_NOTIFY_NEVER, PN_NOTIFY_FAILURE));
    ck_assert(pn_dsn_wants(PN_NOTIFY_SUCCESS, PN_NOTIFY_SUCCESS));
    /* xtext both ways; malformed input refused */
    pn_buf_reset(&out);
    pn_xtext_encode("a+b=c d\xe9", &out);
    ck_assert_str_eq(out.data, "a+2Bb+3Dc+20d+E9");
    ck_assert_int_eq(pn_xtext_decode("QQ+2B123", 8, &out), 0);
    ck_assert_str_eq(out.data, "QQ+123");
    ck_assert_int_eq(pn_xtext_decode("a+2", 3, &out), -1);
    ck_assert_int_eq(pn_xtext_decode("a+0Ab", 5, &out), -1); /* a control character */
    ck_assert_int_eq(pn_xtext_decode("a=b", 3, &out), -1);
    ck_assert_int_eq(pn_xtext_decode("a+2bb", 5, &out), -1); /* hex is upper case */
    pn_buf_release(&out);
}
END_TEST

Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("queue");
    tcase_add_test(tc, queue_ids);
    tcase_add_test(tc, crc32c_every_length_and_alignment);
    tcase_add_test(tc, round_trip_and_marks);
    tcase_add_test(tc, corruption_is_detected);
    tcase_add_test(tc, dsn_parameters);
    suite_add_tcase(s, tc);
    return s;
}
