/* check_expand.c: unit tests for $-expansion: every syntax form, loops, compatibility levels. */
#include <string.h>

#include "base/buf.h"
#include "config/cfexpand.h"
#include "units.h"

static const char *vars[][2] = {
    {"a", "A"},        {"b", "$a-b"},       {"empty", ""},
    {"level", "3.6"},  {"loop1", "$loop2"}, {"loop2", "x${loop1}"},
    {"self", "$self"}, {"num", "10"},       {NULL, NULL},
};

static const char *lookup(const char *name, void *ctx)
{
    (void)ctx;
    for (int i = 0; vars[i][0]; i++)
        if (strcmp(vars[i][0], name) == 0)
            return vars[i][1];
    return NULL;
}

static const char *expand(const char *text, int *rc)
{
    static pn_buf out = PN_BUF_INIT, err = PN_BUF_INIT;
    pn_expand_ctx ec = {lookup, NULL, NULL, PN_EXPAND_RECURSE, NULL};
    pn_buf_reset(&out);
    pn_buf_reset(&err);
    *rc = pn_expand(&ec, text, &out, &err);
    return *rc == 0 ? out.data : err.data;
}

static void expect(const char *text, const char *want)
{
    int rc;
    const char *got = expand(text, &rc);
    ck_assert_msg(rc == 0, "%s: error %s", text, got);
    ck_assert_msg(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", text, got, want);
}

START_TEST(simple_forms)
{
    expect("$a", "A");
    expect("${a}", "A");
    expect("$(a)", "A");
    expect("x$a.y", "xA.y");
    expect("$b", "A-b");
    expect("$undefined", "");
    expect("$$a", "$a");
    expect("cost $", "cost $");
    expect("a$-b", "a$-b");
}
END_TEST

START_TEST(conditionals)
{
    expect("${a?yes}", "yes");
    expect("${empty?yes}", "");
    expect("${a:no}", "");
    expect("${empty:no}", "no");
    expect("${undefined:no}", "no");
    expect("${a?{y}:{n}}", "y");
    expect("${empty?{y}:{n}}", "n");
    expect("${a?{$b}}", "A-b");
    expect("${empty?{10}:{300}}s", "300s");
}
END_TEST

START_TEST(relational)
{
    expect("${{$level} <level {2} ? {subnet} : {host}}", "host");
    expect("${{0} <level {2} ? {subnet} : {host}}", "subnet");
    expect("${{3.10} >level {3.9} ? {new} : {old}}", "new");
    expect("${{$num} == {10} ? {ten} : {other}}", "ten");
    expect("${{9} < {10} ? {numeric} : {string}}", "numeric");
    expect("${{abc} != {abd} ? {diff}}", "diff");
    int rc;
    expand("${{x} <level {2} ? {a} : {b}}", &rc);
    ck_assert_int_eq(rc, -1);
    expand("${{a} ~ {b} ? {x}}", &rc);
    ck_assert_int_eq(rc, -1);
}
END_TEST

START_TEST(loops_are_reported)
{
    int rc;
    const char *msg = expand("$loop1", &rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(msg, "expansion loop: $loop1 -> $loop2 -> $loop1") != NULL, "%s", msg);
    msg = expand("${self}", &rc);
    ck_assert_int_eq(rc, -1);
    expand("${a", &rc);
    ck_assert_int_eq(rc, -1);
    expand("${a?{x}", &rc);
    ck_assert_int_eq(rc, -1);
}
END_TEST

START_TEST(compat_levels)
{
    ck_assert_int_lt(pn_compat_level_cmp("3.6", "3.10"), 0);
    ck_assert_int_eq(pn_compat_level_cmp("2", "2.0"), 0);
    ck_assert_int_gt(pn_compat_level_cmp("3.6.1", "3.6"), 0);
    ck_assert(pn_compat_level_valid("3.6"));
    ck_assert(!pn_compat_level_valid("3.x"));
    ck_assert(!pn_compat_level_valid(""));
}
END_TEST

Suite *expand_suite(void)
{
    Suite *s = suite_create("expand");
    TCase *tc = tcase_create("expand");
    tcase_add_test(tc, simple_forms);
    tcase_add_test(tc, conditionals);
    tcase_add_test(tc, relational);
    tcase_add_test(tc, loops_are_reported);
    tcase_add_test(tc, compat_levels);
    suite_add_tcase(s, tc);
    return s;
}
