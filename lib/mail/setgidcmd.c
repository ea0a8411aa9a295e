/* setgidcmd.c: the start of a setgid command (see setgidcmd.h). */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/domlist.h"
#include "mail/setgidcmd.h"

void pn_setgid_sanitize(void)
{
    const char *keep[] = {"TZ", "LANG", "MAIL_CONFIG", NULL};
    char *saved[3] = {NULL, NULL, NULL};
    for (int i = 0; keep[i]; i++)
        if (getenv(keep[i]))
            saved[i] = strdup(getenv(keep[i]));
    clearenv();
    for (int i = 0; keep[i]; i++) {
        if (saved[i])
            setenv(keep[i], saved[i], 1);
        free(saved[i]);
    }
    umask(077);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
}

void pn_setgid_config_directory(const char *dir)
{
    if (dir == NULL || strcmp(dir, PN_CONFIG_DIR) == 0 || getuid() == 0)
        return;
    pn_config_set_directory(PN_CONFIG_DIR);
    pn_buf err = PN_BUF_INIT;
    pn_config_read_main(&err);
    pn_argv *dirs = pn_argv_split(pn_config_get(PN_P(alternate_config_directories)), PN_SEPARATORS);
    int ok = 0;
    for (size_t i = 0; i < dirs->len; i++)
        ok |= strcmp(dirs->items[i], dir) == 0;
    pn_argv_free(dirs);
    if (!ok)
        pn_fatal("%s: the configuration directory is not listed in alternate_config_directories "
                 "of %s/main.cf",
                 dir, PN_CONFIG_DIR);
    pn_config_reset();
    pn_buf_release(&err);
}

void pn_setgid_enter_queue(void)
{
    const char *queue = pn_config_get(PN_P(queue_directory));
    if (chdir(queue) < 0)
        pn_fatal("chdir %s: %s", queue, strerror(errno));
}

void pn_setgid_check_user(const char *param, const char *what, int admins_too)
{
    struct passwd *pw = getpwuid(getuid());
    const char *name = pw ? pw->pw_name : "unknown";
    const char *list = pn_config_get(param);
    if (!admins_too && (getuid() == 0 || strcmp(name, pn_config_get(PN_P(mail_owner))) == 0))
        return;
    /* names, "!name", "/file/name" and "type:table" ("static:anyone" is any name), left
     * to right: the first that matches decides, none is a refusal */
    pn_buf err = PN_BUF_INIT;
    pn_domlist *allowed = pn_domlist_open(param, list, &err);
    if (allowed == NULL)
        pn_fatal("%s", err.data);
    int rc = pn_domlist_match(allowed, name);
    if (rc < 0)
        pn_fatal("%s: table lookup problem for %s", param, name);
    if (rc == 0)
        pn_fatal("User %s(%ld) is not allowed to %s", name, (long)getuid(), what);
    pn_domlist_free(allowed);
    pn_buf_release(&err);
}

#ifdef __SANITIZE_ADDRESS__
/* Sanitizer builds: a setgid process cannot read its own /proc/self/environ, so ASAN_OPTIONS
 * never reaches it, and LeakSanitizer cannot run in it; the commands that link this file
 * run without leak detection. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}
#endif
