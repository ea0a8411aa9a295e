/* check_mime.c: unit tests for the 8-bit to 7-bit downgrade: a plain text body, a multipart
 * message with one 8-bit part among 7-bit ones, quoted-printable's soft breaks and trailing
 * blanks, and what must stay as it is (7-bit mail, base64, binary). */
#include <string.h>

#include "base/buf.h"
#include "config/cfparams.h"
#include "mail/mime8to7.h"
#include "units.h"

static int down(const char *in, pn_buf *out)
{
    return pn_mime_downgrade(in, strlen(in), "mx.example", out);
}

START_TEST(plain_body)
{
    pn_config_reset();
    pn_buf out = PN_BUF_INIT;
    ck_assert_int_eq(
        down("Subject: s\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9 = ok \n", &out), 1);
    ck_assert_str_eq(out.data, "Subject: s\nContent-Transfer-Encoding: quoted-printable\n"
                               "X-MIME-Autoconverted: from 8bit to quoted-printable by "
                               "mx.example\n\ncaf=C3=A9 =3D ok=20\n");
    /* 7-bit mail is left alone, byte for byte */
    ck_assert_int_eq(down("Subject: s\n\nplain\n", &out), 0);
    ck_assert_str_eq(out.data, "Subject: s\n\nplain\n");
    pn_buf_release(&out);
}
END_TEST

START_TEST(long_lines_get_soft_breaks)
{
    pn_config_reset();
    pn_buf in = PN_BUF_INIT, out = PN_BUF_INIT;
    pn_buf_puts(&in, "Subject: s\n\n");
    for (int i = 0; i < 100; i++)
        pn_buf_puts(&in, "\xc3\xa9");
    pn_buf_puts(&in, "\n");
    ck_assert_int_eq(down(in.data, &out), 1);
    const char *body = strstr(out.data, "\n\n") + 2;
    for (const char *line = body; *line;) {
        size_t n = strcspn(line, "\n");
        ck_assert_uint_le(n, 76);
        line += n + (line[n] == '\n');
    }
    ck_assert(strstr(body, "=\n") != NULL);
    pn_buf_release(&in);
    pn_buf_release(&out);
}
END_TEST

START_TEST(multipart_parts)
{
    pn_config_reset();
    pn_buf out = PN_BUF_INIT;
    const char *in =
        "MIME-Version: 1.0\nContent-Type: multipart/mixed;\n\tboundary=\"b1\"\n\npreamble\n"
        "--b1\nContent-Type: text/plain\n\nseven bit\n"
        "--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "\xc3\xbc\n"
        "--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        "AAEC\n--b1--\nepilogue\n";
    ck_assert_int_eq(down(in, &out), 1);
    ck_assert(strstr(out.data, "--b1\nContent-Type: text/plain\n\nseven bit\n--b1\n") != NULL);
    ck_assert(strstr(out.data, "charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n"
                               "X-MIME-Autoconverted: from 8bit to quoted-printable by "
                               "mx.example\n\n=C3=BC\n--b1\n") != NULL);
    ck_assert(strstr(out.data, "base64\n\nAAEC\n--b1--\nepilogue\n") != NULL);
    ck_assert(strstr(out.data, "preamble\n--b1\n") != NULL);
    /* binary stays binary: it cannot be sent to such a server in any case */
    ck_assert_int_eq(down("Content-Transfer-Encoding: binary\n\n\xff\n", &out), 0);
    pn_buf_release(&out);
}
END_TEST

/* random_bytes_never_crash: mutated MIME messages (boundaries cut, headers folded oddly,
 * 8-bit bytes anywhere) go through the downgrade under the sanitizers without a fault, and
 * nothing is lost: the output is never shorter than the input. */
START_TEST(random_bytes_never_crash)
{
    pn_config_reset();
    static const char *const seeds[] = {
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
        "\xc3\xa9\n--b\nContent-Type: message/rfc822\n\nSubject: x\n\n\xff\n--b--\n",
        "Content-Type: multipart/alternative; boundary=\"q q\"\n\n--q q\n\n\x80\n",
        "Subject: s\nContent-Transfer-Encoding: 8bit\n\n\xe9\xe9\xe9 \t\n"};
    unsigned seed = 12345;
    pn_buf in = PN_BUF_INIT, out = PN_BUF_INIT;
    for (int round = 0; round < 3000; round++) {
        const char *base = seeds[round % 3];
        pn_buf_set(&in, base);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245 + 12345;
            size_t at = (seed >> 8) % in.len;
            static const char pieces[] = "\n-=:;\"\x80 bB";
            in.data[at] = pieces[(seed >> 16) % (sizeof(pieces) - 1)];
        }
        if (round % 7 == 0)
            pn_buf_truncate(&in, in.len / 2);
        pn_mime_downgrade(in.data, in.len, "h", &out);
        ck_assert_uint_ge(out.len, in.len);
    }
    pn_buf_release(&in);
    pn_buf_release(&out);
}
END_TEST

Suite *mime_suite(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("downgrade");
    tcase_add_test(tc, plain_body);
    tcase_add_test(tc, long_lines_get_soft_breaks);
    tcase_add_test(tc, multipart_parts);
    tcase_add_test(tc, random_bytes_never_crash);
    suite_add_tcase(s, tc);
    return s;
}
