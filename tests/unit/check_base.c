/* check_base.c: unit tests for lib/base: strings, parsers, argv grouping, hash table, CIDR,
 * base64. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/codec.h"
#include "base/htable.h"
#include "base/inet.h"
#include "base/strutil.h"
#include "units.h"

START_TEST(buf_grows_and_stays_terminated)
{
    pn_buf b = PN_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        pn_buf_putc(&b, 'x');
    ck_assert_uint_eq(b.len, 10000);
    ck_assert_int_eq(b.data[10000], 0);
    pn_buf_printf(&b, "%d", 42);
    ck_assert_str_eq(b.data + 10000, "42");
    pn_buf_append(&b, "a\0b", 3);
    ck_assert_uint_eq(b.len, 10005);
    pn_buf_release(&b);
}
END_TEST

START_TEST(parsers_are_strict)
{
    long v;
    int b;
    ck_assert_int_eq(pn_parse_long("42", &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(pn_parse_long("42x", &v), -1);
    ck_assert_int_eq(pn_parse_long("", &v), -1);
    ck_assert_int_eq(pn_parse_long(" 1", &v), -1);
    ck_assert_int_eq(pn_parse_long("99999999999999999999999", &v), -1);
    ck_assert_int_eq(pn_parse_bool("yes", &b), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(pn_parse_bool("False", &b), 0);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(pn_parse_bool("maybe", &b), -1);
    ck_assert_int_eq(pn_parse_time("5d", 's', &v), 0);
    ck_assert_int_eq(v, 5 * 86400);
    ck_assert_int_eq(pn_parse_time("3", 'd', &v), 0);
    ck_assert_int_eq(v, 3 * 86400);
    ck_assert_int_eq(pn_parse_time("1w", 's', &v), 0);
    ck_assert_int_eq(v, 7 * 86400);
    ck_assert_int_eq(pn_parse_time("10x", 's', &v), -1);
    ck_assert_int_eq(pn_parse_time("10ss", 's', &v), -1);
    ck_assert_int_eq(pn_parse_time("h", 's', &v), -1);
}
END_TEST

START_TEST(argv_grouping)
{
    const char *why;
    pn_argv *a = pn_argv_split_grouped("a { b c } {d}  e", " ", &why);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->len, 4);
    ck_assert_str_eq(a->items[1], "b c");
    ck_assert_str_eq(a->items[2], "d");
    ck_assert_ptr_null(a->items[4]);
    pn_argv_free(a);
    a = pn_argv_split_grouped("a { { x } y } z", " ", &why);
    ck_assert_str_eq(a->items[1], "{ x } y");
    pn_argv_free(a);
    ck_assert_ptr_null(pn_argv_split_grouped("a { b", " ", &why));
    ck_assert_str_eq(why, "missing '}'");
    ck_assert_ptr_null(pn_argv_split_grouped("{a}b", " ", &why));
}
END_TEST

START_TEST(htable_basics)
{
    pn_htable *t = pn_htable_new(2);
    char names[100][8];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        pn_htable_put(t, names[i], names[i]);
    }
    ck_assert_uint_eq(pn_htable_count(t), 100);
    ck_assert_str_eq(pn_htable_get(t, "k57"), "k57");
    ck_assert_ptr_null(pn_htable_get(t, "k100"));
    ck_assert_ptr_nonnull(pn_htable_remove(t, "k57"));
    ck_assert(!pn_htable_has(t, "k57"));
    const char **keys = pn_htable_keys(t);
    ck_assert_str_eq(keys[0], "k0");
    ck_assert_str_eq(keys[1], "k1");
    ck_assert_str_eq(keys[2], "k10");
    free(keys);
    pn_htable_free(t, NULL);
}
END_TEST

START_TEST(cidr_matching)
{
    pn_cidr c;
    pn_inet_addr a;
    pn_buf why = PN_BUF_INIT;
    ck_assert_int_eq(pn_cidr_parse("192.168.0.0/16", &c, &why), 0);
    pn_inet_parse("192.168.44.1", &a);
    ck_assert(pn_cidr_match(&c, &a));
    pn_inet_parse("192.169.0.1", &a);
    ck_assert(!pn_cidr_match(&c, &a));
    ck_assert_int_eq(pn_cidr_parse("[::1]/128", &c, &why), 0);
    pn_inet_parse("::1", &a);
    ck_assert(pn_cidr_match(&c, &a));
    /* IPv4-mapped networks never match IPv4 clients (doc/decisions.md, D6). */
    ck_assert_int_eq(pn_cidr_parse("[::ffff:127.0.0.0]/104", &c, &why), 0);
    pn_inet_parse("127.0.0.1", &a);
    ck_assert(!pn_cidr_match(&c, &a));
    pn_inet_parse("::ffff:127.0.0.1", &a);
    ck_assert(pn_cidr_match(&c, &a));
    pn_inet_unmap(&a);
    ck_assert_int_eq(a.family, AF_INET);
    ck_assert_int_eq(pn_cidr_parse("1.2.3.4/24", &c, &why), -1);
    ck_assert(strstr(why.data, "non-null host address bits") != NULL);
    ck_assert_int_eq(pn_cidr_parse("1.2.3.0/33", &c, &why), -1);
    ck_assert_int_eq(pn_cidr_parse("nonsense", &c, &why), -1);
    pn_buf_release(&why);
}
END_TEST

START_TEST(base64_both_ways)
{
    /* RFC 4648's test vectors, and what a SASL exchange must refuse */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        pn_buf out = PN_BUF_INIT;
        pn_base64_encode(plain[i], strlen(plain[i]), &out);
        ck_assert_str_eq(pn_buf_str(&out), coded[i]);
        pn_buf_reset(&out);
        ck_assert_int_eq(pn_base64_decode(coded[i], strlen(coded[i]), &out), 0);
        ck_assert_str_eq(pn_buf_str(&out), plain[i]);
        pn_buf_release(&out);
    }
    pn_buf out = PN_BUF_INIT;
    ck_assert_int_eq(pn_base64_decode("AGFsaWNlAHNlY3JldA==", 20, &out), 0);
    ck_assert_int_eq((int)out.len, 13);
    ck_assert_int_eq(memcmp(out.data, "\0alice\0secret", 13), 0);
    static const char *const bad[] = {"Zg=", "Z===", "Zg==Zg==", "Zm9!", "Zm 9", "=Zm9"};
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(pn_base64_decode(bad[i], strlen(bad[i]), &out), -1);
    pn_buf_release(&out);
}
END_TEST

Suite *base_suite(void)
{
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("base");
    tcase_add_test(tc, buf_grows_and_stays_terminated);
    tcase_add_test(tc, parsers_are_strict);
    tcase_add_test(tc, argv_grouping);
    tcase_add_test(tc, htable_basics);
    tcase_add_test(tc, cidr_matching);
    tcase_add_test(tc, base64_both_ways);
    suite_add_tcase(s, tc);
    return s;
}
