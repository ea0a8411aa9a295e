/* units.h: the Check suites of the unit-test runner, one per library area. */
#ifndef PN_TESTS_UNITS_H
#define PN_TESTS_UNITS_H
#include <check.h>

Suite *base_suite(void);
Suite *expand_suite(void);
Suite *config_suite(void);
Suite *dict_suite(void);
Suite *attr_suite(void);
Suite *queue_suite(void);
Suite *resolve_suite(void);
Suite *mime_suite(void);
Suite *log_suite(void);
Suite *hdraddr_suite(void);
Suite *dsn_suite(void);
Suite *smtpd_check_suite(void);
Suite *worker_suite(void);

/* unit_tmpdir: a fresh private directory for one test (removed by the runner's caller). */
const char *unit_tmpdir(void);
/* unit_write: create dir/name with the given text; returns the path (static storage). */
const char *unit_write(const char *name, const char *text);

#endif
