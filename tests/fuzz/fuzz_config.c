/* fuzz_config.c: configuration parsing on any text: as main.cf (lib/config/cfparams.c: lines,
 * continuations, "name = value", then every value expanded with its $name references, the
 * ${name?...} forms and their loops) and, line by line, as master.cf entries
 * (lib/config/cfmaster.c). Configuration is trusted text, but a mistake in it must end in a
 * message naming the file and line, never in a crash. */
#include <stdio.h>
#include <sys/stat.h>

#include "config/cfmaster.h"
#include "config/cfparams.h"
#include "fuzz.h"

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_config");
    if (size > 16384)
        return 0;
    if (dir[0] == 0) {
        snprintf(dir, sizeof(dir), "/tmp/pn-fuzz-config-%d", (int)getpid());
        mkdir(dir, 0700);
    }
    char path[96];
    snprintf(path, sizeof(path), "%s/main.cf", dir);
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    pn_config_reset();
    pn_config_set_directory(dir);
    pn_buf err = PN_BUF_INIT, out = PN_BUF_INIT;
    if (pn_config_read_main(&err) == 0) {
        const char **names = pn_config_setting_names();
        for (size_t i = 0; names[i]; i++) {
            pn_buf_reset(&out);
            pn_buf_reset(&err);
            pn_config_expand_text(pn_config_setting(names[i]), &out, &err);
        }
        free(names);
    }
    /* each line as a master.cf entry */
    char *text = fuzz_string(data, size);
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        pn_buf_reset(&err);
        pn_master_entry *entry = pn_master_parse_entry(line, &err);
        if (entry) {
            pn_buf_reset(&out);
            pn_master_format(entry, 1, &out);
            pn_master_command(entry, &out);
            pn_argv_free(pn_master_overrides(entry));
            pn_master_entry_free(entry);
        }
    }
    free(text);
    unlink(path);
    pn_buf_release(&err);
    pn_buf_release(&out);
    return 0;
}
