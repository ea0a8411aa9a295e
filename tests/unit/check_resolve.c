/* check_resolve.c: golden tests for rewriting and resolving addresses: every directory under
 * tests/data/resolve has a main.cf, requests ("in") and the expected answers ("ref"). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/resolve.h"
#include "units.h"

#define DATA "../data/resolve"

static void answer(pn_resolver *r, const char *line, pn_buf *out)
{
    char kind[16], arg[512];
    int used = 0;
    if (sscanf(line, "%15s %n", kind, &used) != 1 || used == 0 ||
        strlen(line + used) >= sizeof(arg))
        ck_abort_msg("bad request line: %s", line);
    snprintf(arg, sizeof(arg), "%s", line + used); /* a quoted local part may hold spaces */
    const char *addr = strcmp(arg, "<>") == 0 ? "" : arg;
    pn_buf_printf(out, "%s %s -> ", kind, arg);
    if (strcmp(kind, "rewrite") == 0) {
        pn_buf result = PN_BUF_INIT;
        pn_addr_rewrite_local(addr, &result);
        pn_buf_puts(out, result.len ? result.data : "<>");
        pn_buf_release(&result);
        return;
    }
    pn_resolved res;
    pn_resolved_init(&res);
    pn_resolve(r, "", addr, &res);
    pn_buf_printf(out, "%s %s %s %s", res.transport.data, res.nexthop.data, res.recipient.data,
                  pn_resolve_class_name(res.flags));
    if (res.flags & PN_RESOLVE_ROUTED)
        pn_buf_puts(out, " routed");
    if (res.flags & PN_RESOLVE_ERROR)
        pn_buf_puts(out, " error");
    if (res.flags & PN_RESOLVE_FAIL)
        pn_buf_puts(out, " fail");
    pn_resolved_release(&res);
}

/* run_case: one directory's requests; what differs from its ref is added to wrong. */
static void run_case(const char *name, pn_buf *wrong)
{
    char path[512], line[1024], want[1024];
    pn_config_reset();
    snprintf(path, sizeof(path), "%s/%s", DATA, name);
    pn_config_set_directory(path);
    pn_config_load();
    pn_buf err = PN_BUF_INIT, got = PN_BUF_INIT;
    pn_resolver *r = pn_resolver_open(&err);
    ck_assert_msg(r != NULL, "%s: %s", name, err.data);
    snprintf(path, sizeof(path), "%s/%s/in", DATA, name);
    FILE *in = fopen(path, "r");
    snprintf(path, sizeof(path), "%s/%s/ref", DATA, name);
    FILE *ref = fopen(path, "r");
    ck_assert(in && ref);
    int n = 0;
    while (fgets(line, sizeof(line), in)) {
        line[strcspn(line, "\n")] = 0;
        if (fgets(want, sizeof(want), ref) == NULL)
            ck_abort_msg("%s: ref has fewer lines than in", name);
        want[strcspn(want, "\n")] = 0;
        pn_buf_reset(&got);
        answer(r, line, &got);
        if (strcmp(got.data, want) != 0)
            pn_buf_printf(wrong, "%s line %d:\n got: %s\nwant: %s\n", name, n + 1, got.data, want);
        n++;
    }
    ck_assert_int_gt(n, 0);
    fclose(in);
    fclose(ref);
    pn_resolver_free(r);
    pn_buf_release(&err);
    pn_buf_release(&got);
    pn_config_reset();
}

START_TEST(golden_cases)
{
    DIR *dir = opendir(DATA);
    ck_assert_ptr_nonnull(dir);
    struct dirent *d;
    int cases = 0;
    pn_buf wrong = PN_BUF_INIT;
    while ((d = readdir(dir)) != NULL) {
        if (d->d_name[0] == '.' || strcmp(d->d_name, "README") == 0)
            continue;
        run_case(d->d_name, &wrong);
        cases++;
    }
    closedir(dir);
    ck_assert_int_ge(cases, 2);
    ck_assert_msg(wrong.len == 0, "%s", pn_buf_str(&wrong));
    pn_buf_release(&wrong);
}
END_TEST

Suite *resolve_suite(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("resolve");
    tcase_add_test(tc, golden_cases);
    suite_add_tcase(s, tc);
    return s;
}
