/* fuzz.h: what every libFuzzer target of tests/fuzz shares: quiet logging set up once, and
 * the input as a NUL-terminated copy or as a file that the code under test opens by name or
 * descriptor. A target never writes outside the temporary file it was given. */
#ifndef PN_FUZZ_H
#define PN_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_quiet: no log line reaches stderr or syslog (a fatal still ends the process, and is
 * a finding); with FUZZ_LOG in the environment, every line goes to stderr, to see why. */
static inline void fuzz_quiet(const char *progname)
{
    static int done;
    if (!done) {
        pn_log_init(progname, getenv("FUZZ_LOG") ? PN_LOG_STDERR : 0);
        done = 1;
    }
}

/* fuzz_string: data as a C string (free it). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* fuzz_memfd: data in an anonymous file, read from its start; -1 when none can be made. */
static inline int fuzz_memfd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

#endif
