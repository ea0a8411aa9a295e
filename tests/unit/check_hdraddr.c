/* check_hdraddr.c: addresses found in place in address-list headers: display names, comments,
 * quoted strings, groups and source routes are kept while each address is rewritten. */
#include <string.h>

#include "mail/hdraddr.h"
#include "units.h"

/* upper: rewrites every address to upper case, counting the calls. */
static int upper(const char *addr, pn_buf *out, void *ctx)
{
    (*(int *)ctx)++;
    for (const char *c = addr; *c; c++)
        pn_buf_putc(out, (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c));
    return 1;
}

static const char *rewritten(const char *field, int *calls)
{
    static pn_buf out = PN_BUF_INIT;
    pn_buf_set(&out, "(unchanged)");
    *calls = 0;
    pn_hdraddr_rewrite(field, upper, calls, &out);
    return out.data;
}

START_TEST(each_form_of_address)
{
    int calls;
    ck_assert_str_eq(rewritten("To: a@x.example", &calls), "To: A@X.EXAMPLE");
    ck_assert_str_eq(rewritten("From: \"Doe, Jane\" <jane@x.example> (work)", &calls),
                     "From: \"Doe, Jane\" <JANE@X.EXAMPLE> (work)");
    ck_assert_int_eq(calls, 1);
    ck_assert_str_eq(
        rewritten("Cc: b@y.example (Bee, B.), Name <c@z.example>,\n\td@w.example", &calls),
        "Cc: B@Y.EXAMPLE (Bee, B.), Name <C@Z.EXAMPLE>,\n\tD@W.EXAMPLE");
    ck_assert_int_eq(calls, 3);
    ck_assert_str_eq(rewritten("To: friends: e@x.example, f@x.example;, g@x.example", &calls),
                     "To: friends: E@X.EXAMPLE, F@X.EXAMPLE;, G@X.EXAMPLE");
    ck_assert_str_eq(rewritten("To: <@relay.example:h@x.example>", &calls),
                     "To: <@relay.example:H@X.EXAMPLE>");
}
END_TEST

START_TEST(nothing_to_rewrite)
{
    int calls;
    ck_assert_str_eq(rewritten("To: undisclosed-recipients:;", &calls), "(unchanged)");
    ck_assert_int_eq(calls, 0);
    ck_assert_str_eq(rewritten("To: (only a comment)", &calls), "(unchanged)");
    ck_assert_str_eq(rewritten("To: \"unterminated", &calls), "To: \"UNTERMINATED");
}
END_TEST

START_TEST(kinds_of_fields)
{
    ck_assert_int_eq(pn_hdraddr_kind("From: a"), PN_HDRADDR_SENDER);
    ck_assert_int_eq(pn_hdraddr_kind("resent-from: a"), PN_HDRADDR_SENDER);
    ck_assert_int_eq(pn_hdraddr_kind("CC: a"), PN_HDRADDR_RECIPIENT);
    ck_assert_int_eq(pn_hdraddr_kind("Subject: a"), PN_HDRADDR_NONE);
    ck_assert_int_eq(pn_hdraddr_kind("Tomorrow: a"), PN_HDRADDR_NONE);
}
END_TEST

Suite *hdraddr_suite(void)
{
    Suite *s = suite_create("hdraddr");
    TCase *tc = tcase_create("hdraddr");
    tcase_add_test(tc, each_form_of_address);
    tcase_add_test(tc, nothing_to_rewrite);
    tcase_add_test(tc, kinds_of_fields);
    suite_add_tcase(s, tc);
    return s;
}
