/* check_smtpd_check.c: golden tests of smtpd's restriction engine. Every directory under
 * tests/data/smtpd_check has a main.cf, a script ("in") of SMTP events and settings, and what
 * smtpd answers and logs for them ("ref"); the engine runs in this process, with addresses
 * resolved here rather than by trivial-rewrite. With PN_GOLDEN_WRITE set in the environment
 * the ref files are written instead (to be read before they are committed). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../smtpd/smtpd/smtpd.h"
#include "base/buf.h"
#include "base/inet.h"
#include "base/log.h"
#include "config/cfparams.h"
#include "mail/resolve.h"
#include "units.h"

#define DATA "../data/smtpd_check"

/* smtpd's main.c is not linked: what it defines for the other parts */
pn_tls_server *smtpd_tls;
enum pn_tls_level smtpd_tls_level;

static void set_client(smtpd_session *s, const char *name, const char *addr, const char *how)
{
    pn_buf_set(&s->addr, addr);
    pn_buf why = PN_BUF_INIT;
    pn_cidr net;
    memset(&s->inet, 0, sizeof(s->inet));
    if (pn_cidr_parse(addr, &net, &why) == 0)
        s->inet = net.net;
    pn_buf_release(&why);
    /* how: "verified" (the default), "reverse" (a PTR name that does not resolve back),
     * "tempfail" (the lookup failed) */
    int verified = how == NULL || strcmp(how, "verified") == 0;
    pn_buf_set(&s->reverse_name, strcmp(name, "unknown") == 0 ? "unknown" : name);
    pn_buf_set(&s->name, verified ? name : "unknown");
    s->name_status = strcmp(s->name.data, "unknown") != 0 ? 0
                     : how && strcmp(how, "tempfail") == 0 ? 4
                                                            : 5;
    pn_buf_reset(&s->namaddr);
    pn_buf_printf(&s->namaddr, "%s[%s]", s->name.data, s->addr.data);
    pn_buf_reset(&s->helo);
    pn_buf_reset(&s->sasl_username);
    pn_buf_reset(&s->sasl_method);
    s->esmtp = 0;
    s->ill_pipelining = 0;
}

static void reset_transaction(smtpd_session *s)
{
    s->in_mail = 0;
    s->held = s->discarded = 0;
    pn_buf_reset(&s->sender);
    pn_argv_free(s->rcpts);
    s->rcpts = pn_argv_new();
    pn_argv_free(s->prepend);
    s->prepend = pn_argv_new();
}

static void compile_again(pn_resolver **resolver)
{
    smtpd_restrict_free();
    pn_resolver_free(*resolver);
    pn_buf err = PN_BUF_INIT;
    *resolver = pn_resolver_open(&err);
    ck_assert_msg(*resolver != NULL, "%s", err.data);
    pn_buf_release(&err);
    smtpd_restrict_init();
    smtpd_restrict_resolve_here(*resolver);
    smtpd_auth_init();
}

/* one_event: a line of the script, and what smtpd answers to it (appended to out). */
static void one_event(smtpd_session *s, pn_resolver **resolver, char *line, pn_buf *out)
{
    char whole[1024];
    snprintf(whole, sizeof(whole), "%s", line);
    char *words[4] = {NULL};
    char *rest = line;
    int n = 0;
    while (n < 4 && (words[n] = strsep(&rest, " \t")) != NULL)
        if (*words[n])
            n++;
    pn_buf reply = PN_BUF_INIT;
    int rc = 0, checked = 0, refused = 0;
    const char *arg = n > 1 ? words[1] : "";
    if (strcmp(words[0], "set") == 0 && n > 1) {
        /* "set name = value ...": the value is the rest of the line */
        char *eq = strchr(whole, '=');
        ck_assert_msg(eq != NULL, "bad set line");
        char *name = words[1];
        const char *value = eq + 1 + strspn(eq + 1, " ");
        pn_config_override(name, value);
        compile_again(resolver);
    } else if (strcmp(words[0], "client") == 0 && n >= 3) {
        set_client(s, words[1], words[2], n > 3 ? words[3] : NULL);
        reset_transaction(s);
        refused = smtpd_check_connect(s, &reply) < 0; /* smtpd_delay_reject = no */
    } else if (strcmp(words[0], "helo") == 0 || strcmp(words[0], "ehlo") == 0) {
        pn_buf_set(&s->helo, arg);
        s->esmtp = 0; /* as smtpd: SMTP until the EHLO is accepted */
        refused = smtpd_check_helo(s, words[0][0] == 'e' ? "EHLO" : "HELO", &reply) < 0;
        s->esmtp = !refused && words[0][0] == 'e';
    } else if (strcmp(words[0], "login") == 0) {
        pn_buf_set(&s->sasl_username, arg);
        pn_buf_set(&s->sasl_method, "PLAIN");
    } else if (strcmp(words[0], "mail") == 0) {
        reset_transaction(s);
        pn_buf_set(&s->sender, strcmp(arg, "<>") == 0 ? "" : arg);
        s->in_mail = 1;
        refused = smtpd_check_mail(s, &reply) < 0;
    } else if (strcmp(words[0], "rcpt") == 0) {
        rc = smtpd_check_rcpt(s, arg, &reply);
        checked = 1;
        if (rc == 0)
            pn_argv_add(s->rcpts, arg);
    } else if (strcmp(words[0], "etrn") == 0) {
        reset_transaction(s); /* smtpd takes ETRN only outside a mail transaction */
        rc = smtpd_check_etrn(s, arg, &reply);
        checked = 1;
    } else if (strcmp(words[0], "data") == 0) {
        rc = smtpd_check_data(s, &reply);
        checked = 1;
    } else if (strcmp(words[0], "eod") == 0) {
        rc = smtpd_check_eod(s, &reply);
        checked = 1;
    } else if (strcmp(words[0], "pipelined") == 0) {
        s->ill_pipelining = 1;
    } else if (strcmp(words[0], "rset") == 0) {
        reset_transaction(s);
    } else {
        ck_abort_msg("unknown script line: %s", line);
    }
    if (checked)
        pn_buf_printf(out, "%s\n", rc == 0 ? "OK" : reply.data);
    else if (refused) /* the lists of smtpd_delay_reject = no, at their own command */
        pn_buf_printf(out, "%s\n", reply.data);
    for (size_t i = 0; i < s->prepend->len; i++)
        pn_buf_printf(out, "prepend: %s\n", s->prepend->items[i]);
    pn_argv_free(s->prepend);
    s->prepend = pn_argv_new();
    for (size_t i = 0; i < s->actions->len; i++)
        pn_buf_printf(out, "to cleanup: %s\n", s->actions->items[i]);
    pn_argv_free(s->actions);
    s->actions = pn_argv_new();
    pn_buf_release(&reply);
}

static void slurp(const char *path, pn_buf *out)
{
    FILE *fp = fopen(path, "r");
    char chunk[4096];
    size_t n;
    if (fp == NULL)
        return;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        pn_buf_append(out, chunk, n);
    fclose(fp);
}

/* run_case: one directory's script; its transcript (">>> line", then the answers and the
 * lines logged) is compared with ref. */
static void run_case(const char *name, pn_buf *wrong)
{
    char path[512], line[1024];
    pn_config_reset();
    snprintf(path, sizeof(path), "%s/%s", DATA, name);
    pn_config_set_directory(path);
    pn_config_load();
    pn_resolver *resolver = NULL;
    compile_again(&resolver);
    smtpd_session s;
    smtpd_session_init(&s);
    set_client(&s, "unknown", "192.0.2.1", NULL);

    /* what the engine logs goes to a file of its own */
    char logpath[600];
    snprintf(logpath, sizeof(logpath), "%s/smtpd_check.log", unit_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    FILE *log = fopen(logpath, "w+");
    ck_assert(log != NULL && saved >= 0);
    dup2(fileno(log), 2);
    pn_log_init("smtpd", PN_LOG_STDERR);

    snprintf(path, sizeof(path), "%s/%s/in", DATA, name);
    FILE *in = fopen(path, "r");
    ck_assert_msg(in != NULL, "%s", path);
    pn_buf got = PN_BUF_INIT;
    while (fgets(line, sizeof(line), in)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] == 0 || line[0] == '#') {
            pn_buf_printf(&got, "%s\n", line);
            continue;
        }
        pn_buf_printf(&got, ">>> %s\n", line);
        fflush(stderr);
        long before = ftell(log);
        fseek(log, 0, SEEK_END);
        one_event(&s, &resolver, line, &got);
        fflush(stderr);
        fseek(log, before, SEEK_SET);
        char logged[2048];
        while (fgets(logged, sizeof(logged), log))
            pn_buf_puts(&got, logged);
    }
    fclose(in);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(log);
    pn_log_init("run_units", PN_LOG_STDERR);

    snprintf(path, sizeof(path), "%s/%s/ref", DATA, name);
    if (getenv("PN_GOLDEN_WRITE")) {
        FILE *ref = fopen(path, "w");
        ck_assert(ref != NULL);
        fputs(pn_buf_str(&got), ref);
        fclose(ref);
    }
    pn_buf want = PN_BUF_INIT;
    slurp(path, &want);
    if (strcmp(pn_buf_str(&got), pn_buf_str(&want)) != 0) {
        /* the first line that differs */
        const char *g = pn_buf_str(&got), *w = pn_buf_str(&want);
        int lineno = 1;
        while (*g && *g == *w) {
            lineno += *g == '\n';
            g++, w++;
        }
        while (g > pn_buf_str(&got) && g[-1] != '\n')
            g--, w--;
        pn_buf_printf(wrong, "%s/ref line %d:\n got: %.*s\nwant: %.*s\n", name, lineno,
                      (int)strcspn(g, "\n"), g, (int)strcspn(w, "\n"), w);
    }
    pn_buf_release(&got);
    pn_buf_release(&want);
    smtpd_session_release(&s);
    smtpd_restrict_free();
    pn_resolver_free(resolver);
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

Suite *smtpd_check_suite(void)
{
    Suite *s = suite_create("smtpd_check");
    TCase *tc = tcase_create("smtpd_check");
    tcase_add_test(tc, golden_cases);
    suite_add_tcase(s, tc);
    return s;
}
