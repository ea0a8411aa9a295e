/* check_attr.c: unit tests for the ATTR/1 codec: round trips, every malformation, and random
 * mutations of a valid frame (which must be rejected or accepted, never crash). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "ipc/attr.h"
#include "units.h"

static void sample(pn_attr_out *o)
{
    pn_attr_begin(o);
    pn_attr_put_cstr(o, "req", "deliver");
    pn_attr_put_int(o, "offset", -1234567890123LL);
    pn_attr_put_str(o, "bin", "a\0b", 3);
    for (int i = 0; i < 3; i++) {
        pn_attr_group_begin(o, "rcpt");
        pn_attr_put_int(o, "n", i);
        pn_attr_group_begin(o, "dsn");
        pn_attr_put_cstr(o, "status", "2.0.0");
        pn_attr_group_end(o);
        pn_attr_group_end(o);
    }
}

START_TEST(round_trip)
{
    pn_attr_out o;
    sample(&o);
    size_t len;
    const char *frame = pn_attr_frame(&o, &len);
    pn_attrs a;
    pn_buf why = PN_BUF_INIT;
    ck_assert_int_eq(pn_attr_parse(frame + 4, len - 4, &a, &why), 0);
    const char *v;
    size_t vlen;
    int64_t n;
    ck_assert_int_eq(pn_attr_get_str(&a, "req", &v, &vlen), 1);
    ck_assert_mem_eq(v, "deliver", 7);
    ck_assert_int_eq(pn_attr_get_int(&a, "offset", &n), 1);
    ck_assert(n == -1234567890123LL);
    ck_assert_int_eq(pn_attr_get_str(&a, "bin", &v, &vlen), 1);
    ck_assert_uint_eq(vlen, 3);
    ck_assert_int_eq(pn_attr_get_str(&a, "offset", &v, &vlen), -1); /* wrong type */
    ck_assert_int_eq(pn_attr_get_str(&a, "absent", &v, &vlen), 0);
    size_t cursor = 0;
    pn_attrs g, d;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pn_attr_next_group(&a, "rcpt", &cursor, &g), 1);
        ck_assert_int_eq(pn_attr_get_int(&g, "n", &n), 1);
        ck_assert_int_eq(n, i);
        size_t c2 = 0;
        ck_assert_int_eq(pn_attr_next_group(&g, "dsn", &c2, &d), 1);
        ck_assert_int_eq(pn_attr_get_str(&d, "status", &v, &vlen), 1);
    }
    ck_assert_int_eq(pn_attr_next_group(&a, "rcpt", &cursor, &g), 0);
    pn_attr_release(&o);
    pn_buf_release(&why);
}
END_TEST

static int parses(const char *payload, size_t len)
{
    pn_attrs a;
    pn_buf why = PN_BUF_INIT;
    int rc = pn_attr_parse(payload, len, &a, &why);
    pn_buf_release(&why);
    return rc;
}

START_TEST(malformed_frames)
{
    ck_assert_int_eq(parses("", 0), -1);
    ck_assert_int_eq(parses("S\003abc\0\0\0\005xy", 12), -1);         /* runs past the end */
    ck_assert_int_eq(parses("S\003ABC\0\0\0\0", 9), -1);              /* bad name */
    ck_assert_int_eq(parses("X\001a\0\0\0\0", 7), -1);                /* unknown type */
    ck_assert_int_eq(parses("I\001a\0\0\0\001x", 8), -1);             /* int of length 1 */
    ck_assert_int_eq(parses("S\001a\0\0\0\0S\001a\0\0\0\0", 14), -1); /* repeated name */
    ck_assert_int_eq(parses("S\001a\0\0\0\0S\001b\0\0\0\0", 14), 0);
    ck_assert_int_eq(parses("S\001a\0\0\0\0\001", 8), -1); /* trailing byte */
    /* groups nested five deep, built by hand: the encoder refuses to make them */
    pn_buf deep = PN_BUF_INIT;
    for (int i = 0; i < 5; i++) {
        unsigned len = (unsigned)(4 - i) * 7;
        char head[7] = {'G', 1, 'g', 0, 0, 0, (char)len};
        pn_buf_append(&deep, head, 7);
    }
    ck_assert_int_eq(parses(deep.data, deep.len), -1);
    pn_buf_truncate(&deep, 4 * 7); /* four deep is allowed */
    for (int i = 0; i < 4; i++)
        deep.data[7 * i + 6] = (char)((3 - i) * 7);
    ck_assert_int_eq(parses(deep.data, deep.len), 0);
    pn_buf_release(&deep);
}
END_TEST

/* names: a frame of count plain attributes named n0, n1, ... (with a repeat of n0 at the end
 * when repeat is set). */
static void names(pn_buf *frame, int count, int repeat)
{
    pn_buf_reset(frame);
    for (int i = 0; i <= count; i++) {
        char name[16];
        int len = snprintf(name, sizeof(name), "n%d", i == count ? 0 : i);
        if (i == count && !repeat)
            break;
        char head[2] = {'S', (char)len};
        pn_buf_append(frame, head, 2);
        pn_buf_append(frame, name, (size_t)len);
        pn_buf_append(frame, "\0\0\0\0", 4);
    }
}

START_TEST(repeated_names_among_many)
{
    pn_buf frame = PN_BUF_INIT;
    names(&frame, PN_ATTR_MAX_NAMES, 0);
    ck_assert_int_eq(parses(frame.data, frame.len), 0);
    names(&frame, PN_ATTR_MAX_NAMES - 1, 1); /* the repeat is found among the others */
    ck_assert_int_eq(parses(frame.data, frame.len), -1);
    /* a frame of 1 MiB of distinct tiny attributes is refused after the first few hundred,
     * not compared name by name with all that came before */
    names(&frame, 100000, 0);
    ck_assert_uint_gt(frame.len, 1000000);
    pn_attrs a;
    pn_buf why = PN_BUF_INIT;
    ck_assert_int_eq(pn_attr_parse(frame.data, frame.len, &a, &why), -1);
    ck_assert_str_eq(why.data, "more than 128 attributes in a group");
    pn_buf_release(&why);
    pn_buf_release(&frame);
}
END_TEST

START_TEST(random_mutations_never_crash)
{
    pn_attr_out o;
    sample(&o);
    size_t len;
    const char *frame = pn_attr_frame(&o, &len);
    char *copy = malloc(len);
    srand(12345);
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(copy, frame, len);
        int flips = 1 + rand() % 4;
        for (int f = 0; f < flips; f++)
            copy[4 + (size_t)rand() % (len - 4)] = (char)rand();
        size_t cut = 4 + (size_t)rand() % (len - 4);
        pn_attrs a;
        pn_buf why = PN_BUF_INIT;
        if (pn_attr_parse(copy + 4, cut - 4, &a, &why) == 0) {
            accepted++;
            const char *v;
            size_t vlen;
            size_t cursor = 0;
            pn_attrs g;
            pn_attr_get_str(&a, "req", &v, &vlen);
            while (pn_attr_next_group(&a, "rcpt", &cursor, &g) > 0)
                ;
        }
        pn_buf_release(&why);
    }
    ck_assert_int_lt(accepted, 20000);
    free(copy);
    pn_attr_release(&o);
}
END_TEST

Suite *attr_suite(void)
{
    Suite *s = suite_create("attr");
    TCase *tc = tcase_create("attr");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, malformed_frames);
    tcase_add_test(tc, repeated_names_among_many);
    tcase_add_test(tc, random_mutations_never_crash);
    suite_add_tcase(s, tc);
    return s;
}
