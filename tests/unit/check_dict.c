/* check_dict.c: unit tests for every table type, the Berkeley DB NUL conventions, and the
 * address and domain search orders. */
#include <db.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "mail/dict.h"
#include "mail/maps.h"
#include "units.h"

static pn_dict *open_ok(const char *spec, int flags)
{
    pn_buf err = PN_BUF_INIT;
    pn_dict *d = pn_dict_open(spec, flags, &err);
    ck_assert_msg(d != NULL, "%s: %s", spec, err.data);
    pn_buf_release(&err);
    return d;
}

static const char *look(pn_dict *d, const char *key)
{
    static pn_buf value = PN_BUF_INIT;
    int rc = pn_dict_lookup(d, key, &value);
    return rc > 0 ? value.data : rc == 0 ? "(none)" : "(error)";
}

/* raw_get: read a key from a .db file directly, exactly as stored. */
static int raw_get(const char *path, const void *key, size_t klen, pn_buf *value)
{
    DB *db;
    db_create(&db, NULL, 0);
    ck_assert_int_eq(db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY, 0), 0);
    DBT k = {0}, v = {0};
    k.data = (void *)key;
    k.size = (u_int32_t)klen;
    int rc = db->get(db, NULL, &k, &v, 0);
    if (rc == 0) {
        pn_buf_reset(value);
        pn_buf_append(value, v.data, v.size);
    }
    db->close(db, 0);
    return rc == 0;
}

static void check_db_type(const char *type)
{
    char spec[512];
    const char *src = unit_write("table", "x");
    snprintf(spec, sizeof(spec), "%s:%s", type, src);
    pn_dict *d = open_ok(spec, PN_DICT_DEFAULT_FLAGS | PN_DICT_CREATE);
    ck_assert_int_eq(pn_dict_update(d, "Info@Example.COM", "box/"), 0);
    ck_assert_int_eq(pn_dict_update(d, "info@example.com", "other"), 1); /* first wins */
    ck_assert_int_eq(pn_dict_close(d, NULL), 0);
    char path[520];
    snprintf(path, sizeof(path), "%s.db", src);
    pn_buf raw = PN_BUF_INIT;
    /* Stored lower-cased, key and value with a trailing NUL. */
    ck_assert(raw_get(path, "info@example.com", 17, &raw));
    ck_assert_uint_eq(raw.len, 5);
    ck_assert_mem_eq(raw.data, "box/", 5);
    ck_assert(!raw_get(path, "info@example.com", 16, &raw));
    d = open_ok(spec, PN_DICT_DEFAULT_FLAGS);
    ck_assert_str_eq(look(d, "INFO@example.com"), "box/");
    ck_assert_str_eq(look(d, "nobody"), "(none)");
    pn_buf k = PN_BUF_INIT, v = PN_BUF_INIT;
    ck_assert_int_eq(pn_dict_sequence(d, 1, &k, &v), 1);
    ck_assert_str_eq(k.data, "info@example.com");
    ck_assert_int_eq(pn_dict_sequence(d, 0, &k, &v), 0);
    ck_assert(!pn_dict_changed(d));
    pn_dict_close(d, NULL);
    /* A table written without NULs (other software) is read too. */
    DB *db;
    db_create(&db, NULL, 0);
    unlink(path);
    ck_assert_int_eq(
        db->open(db, NULL, path, NULL, strcmp(type, "hash") ? DB_BTREE : DB_HASH, DB_CREATE, 0644),
        0);
    DBT dk = {0}, dv = {0};
    dk.data = "plain";
    dk.size = 5;
    dv.data = "value";
    dv.size = 5;
    db->put(db, NULL, &dk, &dv, 0);
    db->close(db, 0);
    d = open_ok(spec, PN_DICT_DEFAULT_FLAGS);
    ck_assert_str_eq(look(d, "plain"), "value");
    pn_dict_close(d, NULL);
    pn_buf_release(&raw);
    pn_buf_release(&k);
    pn_buf_release(&v);
}

START_TEST(hash_and_btree)
{
    check_db_type("hash");
    check_db_type("btree");
}
END_TEST

START_TEST(corrupt_db_is_an_error)
{
    const char *path = unit_write("junk.db", "this is not a berkeley db file at all........");
    char spec[512];
    snprintf(spec, sizeof(spec), "hash:%.*s", (int)(strlen(path) - 3), path);
    pn_buf err = PN_BUF_INIT;
    ck_assert_ptr_null(pn_dict_open(spec, PN_DICT_DEFAULT_FLAGS, &err));
    ck_assert(strstr(err.data, "open database") != NULL);
    pn_buf_release(&err);
}
END_TEST

START_TEST(text_tables)
{
    char spec[512];
    const char *path = unit_write("text", "# c\nKey1 value one\nkey2\tv2\n  more\n");
    snprintf(spec, sizeof(spec), "texthash:%s", path);
    pn_dict *d = open_ok(spec, PN_DICT_DEFAULT_FLAGS);
    ck_assert_str_eq(look(d, "KEY1"), "value one");
    ck_assert_str_eq(look(d, "key2"), "v2  more");
    pn_dict_close(d, NULL);
    d = open_ok("inline:{ a=1, { b = two words }, C=3 }", PN_DICT_DEFAULT_FLAGS);
    ck_assert_str_eq(look(d, "a"), "1");
    ck_assert_str_eq(look(d, "B"), "two words");
    ck_assert_str_eq(look(d, "c"), "3");
    pn_dict_close(d, NULL);
    d = open_ok("static:{ some text }", PN_DICT_DEFAULT_FLAGS);
    ck_assert_str_eq(look(d, "anything"), "some text");
    pn_dict_close(d, NULL);
    d = open_ok("fail:x", PN_DICT_DEFAULT_FLAGS);
    ck_assert_str_eq(look(d, "anything"), "(error)");
    pn_dict_close(d, NULL);
    d = open_ok("unix:passwd.byname", PN_DICT_DEFAULT_FLAGS);
    ck_assert(strncmp(look(d, "root"), "root:", 5) == 0);
    ck_assert_str_eq(look(d, "no-such-user-here"), "(none)");
    pn_dict_close(d, NULL);
    pn_buf err = PN_BUF_INIT;
    ck_assert_ptr_null(pn_dict_open("inline:{ a }", 0, &err));
    ck_assert_ptr_null(pn_dict_open("nosuchtype:x", 0, &err));
    pn_buf_release(&err);
}
END_TEST

static void check_patterns(const char *type)
{
    char spec[512];
    const char *path = unit_write("patterns", "/^(.*)\\+(.*)@example\\.com$/ $1 at $2\n"
                                              "if /@example\\.org$/\n"
                                              "/^admin@/ ADMIN\n"
                                              "!/^x/ not-x\n"
                                              "endif\n"
                                              "/^CASE$/i exact\n"
                                              "/^case$/ folded\n");
    snprintf(spec, sizeof(spec), "%s:%s", type, path);
    pn_dict *d = open_ok(spec, PN_DICT_DEFAULT_FLAGS);
    ck_assert_str_eq(look(d, "user+ext@example.com"), "user at ext");
    ck_assert_str_eq(look(d, "admin@example.org"), "ADMIN");
    ck_assert_str_eq(look(d, "someone@example.org"), "not-x");
    ck_assert_str_eq(look(d, "xavier@example.org"), "(none)");
    ck_assert_str_eq(look(d, "admin@example.net"), "(none)");
    ck_assert_str_eq(look(d, "CASE"), "exact");
    ck_assert_str_eq(look(d, "Case"), "folded");
    pn_dict_close(d, NULL);
    static const char *bad[][2] = {
        {"/a(/ x\n", "line 1: "},
        {"/abc x\n", "missing closing delimiter"},
        {"/(a)/ $2\n", "out-of-range substitution"},
        {"if /a/\n/b/ c\n", "has no matching ENDIF"},
        {"/ok/ fine\nendif\n", "line 2: ignoring ENDIF"},
        {"/a/q x\n", "unknown"},
        {"/a/\n", "no replacement text"},
        {NULL, NULL},
    };
    for (int i = 0; bad[i][0]; i++) {
        path = unit_write("bad", bad[i][0]);
        snprintf(spec, sizeof(spec), "%s:%s", type, path);
        pn_buf err = PN_BUF_INIT;
        ck_assert_ptr_null(pn_dict_open(spec, 0, &err));
        ck_assert_msg(strstr(err.data, bad[i][1]) != NULL, "%s: %s", bad[i][0], err.data);
        pn_buf_release(&err);
    }
}

START_TEST(regexp_and_pcre)
{
    check_patterns("regexp");
#if PN_HAVE_PCRE2
    check_patterns("pcre");
#endif
}
END_TEST

START_TEST(cidr_table)
{
    char spec[512];
    const char *path = unit_write("cidr", "192.168.1.0/24 lan\n"
                                          "10.0.0.0/8 REJECT\n"
                                          "[2001:db8::]/32 v6\n"
                                          "if 172.16.0.0/12\n"
                                          "!172.16.0.0/16 not-16\n"
                                          "endif\n");
    snprintf(spec, sizeof(spec), "cidr:%s", path);
    pn_dict *d = open_ok(spec, PN_DICT_DEFAULT_FLAGS);
    ck_assert_str_eq(look(d, "192.168.1.77"), "lan");
    ck_assert_str_eq(look(d, "10.9.8.7"), "REJECT");
    ck_assert_str_eq(look(d, "2001:db8::1"), "v6");
    ck_assert_str_eq(look(d, "172.17.0.1"), "not-16");
    ck_assert_str_eq(look(d, "172.16.0.1"), "(none)");
    ck_assert_str_eq(look(d, "8.8.8.8"), "(none)");
    ck_assert_str_eq(look(d, "not-an-address"), "(none)");
    pn_dict_close(d, NULL);
    path = unit_write("cidr-bad", "1.2.3.4/24 x\n");
    snprintf(spec, sizeof(spec), "cidr:%s", path);
    pn_buf err = PN_BUF_INIT;
    ck_assert_ptr_null(pn_dict_open(spec, 0, &err));
    ck_assert(strstr(err.data, "line 1: non-null host address bits") != NULL);
    pn_buf_release(&err);
}
END_TEST

START_TEST(search_orders)
{
    pn_buf err = PN_BUF_INIT, v = PN_BUF_INIT;
    pn_maps *m = pn_maps_open("virtual_alias_maps",
                              "inline:{ user+ext@a.example=full, user@a.example=base, "
                              "local+x=localext, local=localbase, @a.example=catchall }",
                              PN_DICT_DEFAULT_FLAGS, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(pn_maps_find_addr(m, "user+ext@a.example", "+", 0, &v), 1);
    ck_assert_str_eq(v.data, "full");
    ck_assert_int_eq(pn_maps_find_addr(m, "user+other@a.example", "+", 0, &v), 1);
    ck_assert_str_eq(v.data, "base");
    ck_assert_int_eq(pn_maps_find_addr(m, "local+x@a.example", "+", PN_MAPS_LOCALPART, &v), 1);
    ck_assert_str_eq(v.data, "localext");
    ck_assert_int_eq(pn_maps_find_addr(m, "local+y@a.example", "+", PN_MAPS_LOCALPART, &v), 1);
    ck_assert_str_eq(v.data, "localbase");
    ck_assert_int_eq(pn_maps_find_addr(m, "local+y@a.example", "+", 0, &v), 1);
    ck_assert_str_eq(v.data, "catchall");
    ck_assert_int_eq(pn_maps_find_addr(m, "who@b.example", "+", 0, &v), 0);
    pn_maps_free(m);
    m = pn_maps_open("transport_maps",
                     "inline:{ example.com=direct, .example.com=sub }, "
                     "inline:{ internal=plain }",
                     PN_DICT_DEFAULT_FLAGS, &err);
    ck_assert_int_eq(pn_maps_find_domain(m, "example.com", PN_MAPS_PARENT_DOT, &v), 1);
    ck_assert_str_eq(v.data, "direct");
    ck_assert_int_eq(pn_maps_find_domain(m, "a.b.example.com", PN_MAPS_PARENT_DOT, &v), 1);
    ck_assert_str_eq(v.data, "sub");
    ck_assert_int_eq(pn_maps_find_domain(m, "host.internal", PN_MAPS_PARENT_DOT, &v), 0);
    ck_assert_int_eq(pn_maps_find_domain(m, "host.internal", PN_MAPS_PARENT_PLAIN, &v), 1);
    ck_assert_str_eq(v.data, "plain");
    pn_maps_free(m);
    m = pn_maps_open("x", "static:ok, fail:broken", 0, &err);
    ck_assert_int_eq(pn_maps_find(m, "k", &v), 1);
    pn_maps_free(m);
    m = pn_maps_open("x", "fail:broken, static:ok", 0, &err);
    ck_assert_int_eq(pn_maps_find(m, "k", &v), -1);
    pn_maps_free(m);
    pn_buf_release(&err);
    pn_buf_release(&v);
}
END_TEST

Suite *dict_suite(void)
{
    Suite *s = suite_create("dict");
    TCase *tc = tcase_create("dict");
    tcase_add_test(tc, hash_and_btree);
    tcase_add_test(tc, corrupt_db_is_an_error);
    tcase_add_test(tc, text_tables);
    tcase_add_test(tc, regexp_and_pcre);
    tcase_add_test(tc, cidr_table);
    tcase_add_test(tc, search_orders);
    suite_add_tcase(s, tc);
    return s;
}
