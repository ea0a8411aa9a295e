/* check_log.c: the logger's pure parts: what a line becomes in maillog_file (time, the host
 * name's first label, control characters and broken UTF-8 replaced) and facility names. */
#include <string.h>
#include <syslog.h>

#include "base/log.h"
#include "units.h"

START_TEST(control_characters_become_question_marks)
{
    char text[] = "a\rb\nc\x01"
                  "d\x7f"
                  "e\x00"
                  "f";
    pn_log_sanitize(text, sizeof(text) - 1);
    ck_assert_mem_eq(text, "a?b?c?d?e?f", sizeof(text) - 1);
}
END_TEST

START_TEST(utf8_is_kept_and_broken_utf8_is_not)
{
    char good[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa8";
    pn_log_sanitize(good, strlen(good));
    ck_assert_str_eq(good, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa8");
    char bad[] = "\xc3(\xff\xe0\x80\x80\xed\xa0\x80\xc3";
    pn_log_sanitize(bad, strlen(bad));
    ck_assert_str_eq(bad, "?(????????");
}
END_TEST

START_TEST(file_line_has_stamp_host_and_one_newline)
{
    char out[128];
    const char dgram[] = "postfix/smtpd[42]: helo=<x\r\ny>";
    size_t n =
        pn_log_file_line(out, sizeof(out), "Dec 05 11:35:18", "mx", dgram, sizeof(dgram) - 1);
    ck_assert_str_eq(out, "Dec 05 11:35:18 mx postfix/smtpd[42]: helo=<x??y>\n");
    ck_assert_uint_eq(n, strlen(out));
    /* too long: cut, still one line */
    char small[32];
    n = pn_log_file_line(small, sizeof(small), "Dec 05 11:35:18", "mx", dgram, sizeof(dgram) - 1);
    ck_assert_uint_eq(n, sizeof(small) - 1);
    ck_assert_int_eq(small[n - 1], '\n');
    ck_assert_ptr_null(memchr(small, '\n', n - 1));
}
END_TEST

START_TEST(facility_names)
{
    ck_assert_int_eq(pn_log_facility("mail"), LOG_MAIL);
    ck_assert_int_eq(pn_log_facility("LOCAL3"), LOG_LOCAL3);
    ck_assert_int_eq(pn_log_facility("mial"), -1);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, control_characters_become_question_marks);
    tcase_add_test(tc, utf8_is_kept_and_broken_utf8_is_not);
    tcase_add_test(tc, file_line_has_stamp_host_and_one_newline);
    tcase_add_test(tc, facility_names);
    suite_add_tcase(s, tc);
    return s;
}
