/* run_units.c: runs every Check suite and ends with Check's summary line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "units.h"

static char tmpdir[256];

const char *unit_tmpdir(void)
{
    if (tmpdir[0] == 0) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/postern-unit.XXXXXX");
        if (mkdtemp(tmpdir) == NULL) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return tmpdir;
}

const char *unit_write(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), name);
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        perror(path);
        exit(1);
    }
    fputs(text, fp);
    fclose(fp);
    return path;
}

int main(void)
{
    SRunner *runner = srunner_create(base_suite());
    srunner_add_suite(runner, expand_suite());
    srunner_add_suite(runner, mime_suite());
    srunner_add_suite(runner, config_suite());
    srunner_add_suite(runner, dict_suite());
    srunner_add_suite(runner, attr_suite());
    srunner_add_suite(runner, queue_suite());
    srunner_add_suite(runner, resolve_suite());
    srunner_add_suite(runner, log_suite());
    srunner_add_suite(runner, hdraddr_suite());
    srunner_add_suite(runner, dsn_suite());
    srunner_add_suite(runner, smtpd_check_suite());
    srunner_add_suite(runner, worker_suite());
    srunner_set_fork_status(runner, CK_NOFORK);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    if (tmpdir[0]) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return failed ? 1 : 0;
}
