/* check_worker.c: the root spawner of the delivery agents grants only what the agent's policy
 * allows, and never root, the root group or -1 ("unchanged"), whatever the request says; a
 * worker runs with exactly the identity granted. Needs root (the spawner exists only then). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "mail/worker.h"
#include "units.h"

#define NOBODY 65534

static int policy(uid_t uid, gid_t gid, long extra_gid)
{
    (void)gid;
    (void)extra_gid;
    return uid == 12345 ? -1 : 0; /* the agent's own rule: anyone but 12345 */
}

START_TEST(spawner_grants_only_safe_identities)
{
    if (geteuid() != 0)
        return; /* without root there is no spawner to ask */
    const char *path = unit_write("worker-readable", "secret\n");
    chmod(unit_tmpdir(), 0711); /* nobody may pass through to the file */
    chmod(path, 0644);
    pn_worker_pool *pool = pn_worker_pool_start(policy);
    pn_buf out = PN_BUF_INIT;
    /* a worker as nobody reads the file: it runs, as that identity */
    ck_assert_int_eq(pn_worker_read(pool, NOBODY, NOBODY, path, &out), 1);
    ck_assert_str_eq(pn_buf_str(&out), "secret\n");
    /* the root group, gid -1 (setresgid's "unchanged"), uid -1, and the policy's refusal */
    pn_buf_reset(&out);
    ck_assert_int_eq(pn_worker_read(pool, NOBODY, 0, path, &out), -1);
    ck_assert_int_eq(pn_worker_read(pool, NOBODY, (gid_t)-1, path, &out), -1);
    ck_assert_int_eq(pn_worker_read(pool, (uid_t)-1, NOBODY, path, &out), -1);
    ck_assert_int_eq(pn_worker_read(pool, 0, NOBODY, path, &out), -1);
    ck_assert_int_eq(pn_worker_read(pool, 12345, NOBODY, path, &out), -1);
    /* a file only root may read stays unread by a worker */
    chmod(path, 0600);
    ck_assert_int_ne(pn_worker_read(pool, NOBODY, NOBODY, path, &out), 1);
    pn_buf_release(&out);
    pn_worker_pool_free(pool);
}
END_TEST

Suite *worker_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *tc = tcase_create("worker");
    tcase_add_test(tc, spawner_grants_only_safe_identities);
    suite_add_tcase(s, tc);
    return s;
}
