/* check_config.c: unit tests for main.cf reading, typed getters, and master.cf columns and
 * errors. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/stream.h"
#include "config/cfline.h"
#include "config/cfmaster.h"
#include "config/cfparams.h"
#include "units.h"

static int read_lines(const char *text, int join, pn_buf *out)
{
    const char *path = unit_write("lines", text);
    pn_stream *s = pn_stream_open(path, O_RDONLY, 0);
    pn_cfline r;
    pn_cfline_init(&r, s, path, join);
    pn_buf line = PN_BUF_INIT;
    int n = 0, rc;
    pn_buf_reset(out);
    while ((rc = pn_cfline_next(&r, &line)) > 0) {
        pn_buf_printf(out, "%d:%s|", r.start_line, line.data);
        n++;
    }
    if (rc < 0)
        pn_buf_printf(out, "ERR %s", r.error.data);
    pn_buf_release(&line);
    pn_cfline_release(&r);
    pn_stream_close(s);
    return n;
}

START_TEST(logical_lines)
{
    pn_buf out = PN_BUF_INIT;
    read_lines("a = 1   \n\t  two  \n# comment\n   three\n\nb = x # not a comment\n", 0, &out);
    ck_assert_str_eq(out.data, "1:a = 1 two three|6:b = x # not a comment|");
    read_lines("k  with  spaces\n   continued here\n", 1, &out);
    ck_assert_str_eq(out.data, "1:k  with  spaces   continued here|");
    read_lines("a\r\nb\n", 0, &out);
    ck_assert_str_eq(out.data, "1:a|2:b|");
    pn_buf_release(&out);
}
END_TEST

START_TEST(nul_bytes_are_refused)
{
    pn_buf out = PN_BUF_INIT;
    const char *path = unit_write("nul", "");
    FILE *fp = fopen(path, "w");
    fwrite("x = 1\ny\0z = 2\n", 1, 14, fp);
    fclose(fp);
    pn_stream *s = pn_stream_open(path, O_RDONLY, 0);
    pn_cfline r;
    pn_cfline_init(&r, s, path, 0);
    ck_assert_int_eq(pn_cfline_next(&r, &out), -1);
    ck_assert(strstr(r.error.data, ", line 2: line contains a NUL byte") != NULL);
    pn_cfline_release(&r);
    pn_stream_close(s);
    pn_buf_release(&out);
}
END_TEST

START_TEST(main_cf_values)
{
    pn_config_reset();
    unit_write("main.cf", "myorigin = /etc/mailname\n"
                          "maximal_queue_lifetime = 3\n"
                          "message_size_limit = 1000\n"
                          "biff = no\n"
                          "mydomain = example.com\n"
                          "myhostname = mail.$mydomain\n"
                          "compatibility_level = 3.6\n");
    pn_config_set_directory(unit_tmpdir());
    pn_buf err = PN_BUF_INIT;
    ck_assert_int_eq(pn_config_read_main(&err), 0);
    ck_assert_int_eq(pn_config_get_time("maximal_queue_lifetime"), 3 * 86400);
    ck_assert_int_eq(pn_config_get_int("message_size_limit"), 1000);
    ck_assert_int_eq(pn_config_get_bool("biff"), 0);
    ck_assert_str_eq(pn_config_get("myhostname"), "mail.example.com");
    ck_assert_str_eq(pn_config_get("mydestination"),
                     "mail.example.com, localhost.example.com, localhost");
    ck_assert_str_eq(pn_config_get("mynetworks_style"), "host");
    ck_assert_str_eq(pn_config_get("relay_domains"), "");
    ck_assert_str_eq(pn_config_get("smtpd_timeout"), "300s");
    ck_assert_int_eq(pn_config_get_time("smtpd_timeout"), 300);
    pn_config_override("stress", "yes");
    ck_assert_int_eq(pn_config_get_time("smtpd_timeout"), 10);
    ck_assert_str_eq(pn_config_get("mail_name"), "Postern");
    ck_assert_str_eq(pn_config_get("smtpd_forbid_bare_newline"), "normalize");
    /* Derived per-transport names exist only for master.cf services that deliver. */
    ck_assert_ptr_null(pn_param_find("spamass-dovecot_destination_recipient_limit"));
    pn_config_add_service("spamass-dovecot", "pipe");
    ck_assert_str_eq(pn_config_get("spamass-dovecot_destination_recipient_limit"), "50");
    ck_assert_int_eq(pn_config_get_time("spamass-dovecot_time_limit"), 1000);
    pn_config_add_service("showq", "showq");
    ck_assert_ptr_null(pn_param_find("showq_destination_concurrency_limit"));
    pn_buf_release(&err);
    pn_config_reset();
}
END_TEST

START_TEST(debian_mailname_rule)
{
    pn_config_reset();
    char mailname[512];
    snprintf(mailname, sizeof(mailname), "%s",
             unit_write("mailname", "  mail.example.net  \nsecond line\n"));
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "myorigin = %s\nmyhostname = plain.example\n", mailname);
    unit_write("main.cf", text.data);
    pn_config_set_directory(unit_tmpdir());
    pn_config_load();
    ck_assert_str_eq(pn_config_get("myorigin"), mailname); /* what postconf shows */
    ck_assert_str_eq(pn_config_get_hostname("myorigin"), "mail.example.net");
    ck_assert_str_eq(pn_config_get_hostname("myhostname"), "plain.example");
    pn_buf_release(&text);
    pn_config_reset();
}
END_TEST

START_TEST(main_cf_errors)
{
    pn_buf err = PN_BUF_INIT;
    pn_config_reset();
    unit_write("main.cf", "# fine\nok = 1\nthis line has no equals sign\n");
    pn_config_set_directory(unit_tmpdir());
    ck_assert_int_eq(pn_config_read_main(&err), -1);
    ck_assert_msg(strstr(err.data, "main.cf, line 3: missing '=' after attribute name") != NULL,
                  "%s", err.data);
    pn_config_reset();
    pn_buf_reset(&err);
    pn_config_set_directory("/nonexistent-postern");
    ck_assert_int_eq(pn_config_read_main(&err), -1);
    ck_assert_str_eq(err.data, "open /nonexistent-postern/main.cf: No such file or directory");
    pn_buf_release(&err);
    pn_config_reset();
}
END_TEST

static pn_master_entry *entry(const char *line, pn_buf *err)
{
    pn_buf_reset(err);
    return pn_master_parse_entry(line, err);
}

START_TEST(master_columns)
{
    pn_buf err = PN_BUF_INIT;
    pn_master_entry *e = entry("smtp inet n - y - - smtpd -o a=b -o { c = d e } x", &err);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(pn_master_private(e), 0);
    ck_assert_int_eq(pn_master_unpriv(e), 1);
    ck_assert_int_eq(pn_master_chroot(e, "3.6"), 1);
    ck_assert_int_eq(pn_master_maxproc(e), -1);
    pn_argv *o = pn_master_overrides(e);
    ck_assert_uint_eq(o->len, 2);
    ck_assert_str_eq(o->items[1], "c=d e");
    pn_argv_free(o);
    pn_buf out = PN_BUF_INIT;
    pn_master_format(e, 0, &out);
    ck_assert_str_eq(out.data, "smtp       inet  n       -       y       -       -       smtpd "
                               "-o a=b -o {c=d e} x");
    pn_master_entry_free(e);
    int cond;
    e = entry("tlsmgr unix - - - 1000? 1 tlsmgr", &err);
    ck_assert_int_eq(pn_master_wakeup(e, &cond), 1000);
    ck_assert_int_eq(cond, 1);
    ck_assert_int_eq(pn_master_maxproc(e), 1);
    ck_assert_int_eq(pn_master_chroot(e, "3.6"), 0);
    ck_assert_int_eq(pn_master_chroot(e, "0"), 1);
    pn_master_entry_free(e);
    pn_buf_release(&out);
    pn_buf_release(&err);
}
END_TEST

START_TEST(master_errors)
{
    static const char *bad[][2] = {
        {"smtp inet - - y - - smtpd", "inet service cannot be private"},
        {"smtp inet n - y", "bad field count"},
        {"smtp bogus n - y - - smtpd", "invalid type field \"bogus\""},
        {"smtp inet n x y - - smtpd", "invalid unprivileged field \"x\""},
        {"smtp inet n - yes - - smtpd", "invalid chroot field \"yes\""},
        {"smtp inet n - y abc - smtpd", "invalid wakeup field \"abc\""},
        {"smtp inet n - y - 1a smtpd", "invalid process_limit field \"1a\""},
        {"smtp inet n - y - - smtpd -o", "-o option requires name=value"},
        {"smtp inet n - y - - smtpd -o novalue", "-o option requires name=value"},
        {"smtp inet n - y - - smtpd { x", "missing '}'"},
        {NULL, NULL},
    };
    pn_buf err = PN_BUF_INIT;
    for (int i = 0; bad[i][0]; i++) {
        ck_assert_ptr_null(entry(bad[i][0], &err));
        ck_assert_msg(strstr(err.data, bad[i][1]) != NULL, "%s: %s", bad[i][0], err.data);
    }
    const char *path = unit_write("master.cf", "smtp inet n - y - - smtpd\n"
                                               "# comment\n"
                                               "pickup unix n - y 60 1 pickup\n"
                                               "  -o x=y\n"
                                               "smtp inet n - n - - smtpd\n"
                                               "broken unix n\n");
    pn_buf_reset(&err);
    ck_assert_ptr_null(pn_master_read(path, 0, &err));
    ck_assert_msg(strstr(err.data, "master.cf, line 6: bad field count") != NULL, "%s", err.data);
    path = unit_write("master.cf", "smtp inet n - y - - smtpd\n"
                                   "smtp inet n - n - - smtpd\n");
    pn_master *m = pn_master_read(path, 0, &err);
    ck_assert_uint_eq(m->count, 1);
    ck_assert_str_eq(m->entries[0]->field[PN_MF_CHROOT], "n"); /* the last one wins */
    pn_master_free(m);
    pn_buf_release(&err);
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, logical_lines);
    tcase_add_test(tc, nul_bytes_are_refused);
    tcase_add_test(tc, main_cf_values);
    tcase_add_test(tc, debian_mailname_rule);
    tcase_add_test(tc, main_cf_errors);
    tcase_add_test(tc, master_columns);
    tcase_add_test(tc, master_errors);
    suite_add_tcase(s, tc);
    return s;
}
