/* cflog.c: applies main.cf's logging parameters to the logger: maillog_file and postlogd's
 * socket ($queue_directory/public/$postlog_service_name), or syslog with syslog_facility. */
#include "config/cflog.h"

#include <string.h>

#include "base/argv.h"
#include "base/log.h"
#include "config/cfparams.h"

void pn_config_logging(const char *process_name, int flags)
{
    int facility = pn_log_facility(pn_config_get(PN_P(syslog_facility)));
    if (facility < 0)
        pn_fatal("unknown syslog_facility value: \"%s\"", pn_config_get(PN_P(syslog_facility)));
    pn_buf socket = PN_BUF_INIT;
    pn_buf_printf(&socket, "%s/public/%s", pn_config_get(PN_P(queue_directory)),
                  pn_config_get(PN_P(postlog_service_name)));
    pn_log_target target = {.maillog_file = pn_config_get(PN_P(maillog_file)),
                            .postlog_socket = socket.data,
                            .hostname = pn_config_get(PN_P(myhostname)),
                            .facility = facility,
                            .writer = (flags & PN_CFLOG_WRITER) != 0,
                            .direct = (flags & PN_CFLOG_DIRECT) != 0};
    pn_log_set_tag(pn_config_get(PN_P(syslog_name)), process_name);
    pn_log_set_target(&target);
    pn_buf_release(&socket);
}

int pn_config_maillog_check(pn_buf *why)
{
    const char *file = pn_config_get(PN_P(maillog_file));
    if (*file == 0)
        return 0;
    pn_argv *prefixes = pn_argv_split(pn_config_get(PN_P(maillog_file_prefixes)), ", \t\r\n");
    int ok = 0;
    for (size_t i = 0; i < prefixes->len && !ok; i++)
        ok = strncmp(file, prefixes->items[i], strlen(prefixes->items[i])) == 0;
    pn_argv_free(prefixes);
    if (!ok)
        pn_buf_printf(why, "maillog_file (%s) does not match maillog_file_prefixes: %s", file,
                      pn_config_get(PN_P(maillog_file_prefixes)));
    return ok ? 0 : -1;
}
