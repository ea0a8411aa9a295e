/* check_dsn.c: enhanced status codes at the start of a text, as header checks, cleanup's
 * replies and pipe commands give them. */
#include "mail/dsn.h"
#include "units.h"

START_TEST(status_codes_at_the_start)
{
    ck_assert_uint_eq(pn_dsn_status_len("5.7.1 Go away"), 5);
    ck_assert_uint_eq(pn_dsn_status_len("4.3.0"), 5);
    ck_assert_uint_eq(pn_dsn_status_len("2.0.0 Ok"), 5);
    ck_assert_uint_eq(pn_dsn_status_len("5.100.999 wide"), 9);
    ck_assert_uint_eq(pn_dsn_status_len("5.7 short"), 0);
    ck_assert_uint_eq(pn_dsn_status_len("3.7.1 class"), 0);
    ck_assert_uint_eq(pn_dsn_status_len("5.7.1000 long"), 0);
    ck_assert_uint_eq(pn_dsn_status_len("5.7.1text"), 0);
    ck_assert_uint_eq(pn_dsn_status_len("message content rejected"), 0);
    ck_assert_uint_eq(pn_dsn_status_len(""), 0);
}
END_TEST

Suite *dsn_suite(void)
{
    Suite *s = suite_create("dsn");
    TCase *tc = tcase_create("dsn");
    tcase_add_test(tc, status_codes_at_the_start);
    suite_add_tcase(s, tc);
    return s;
}
