/* fuzz_qfile.c: the queue-file reader (lib/mail/qfile.c) on any file: it is refused as
 * corrupt, or every record, recipient and attribute in it can be read and its content
 * checked. The header's checksum is made right first, so that the fuzzer gets past it to the
 * records; likewise the content's. */
#include "base/codec.h"
#include "fuzz.h"
#include "mail/qfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_qfile");
    if (size > 4 * PN_QF_MAX_RECORD)
        return 0;
    unsigned char *file = malloc(size ? size : 1);
    memcpy(file, data, size);
    if (size >= PN_QF_HEADER_SIZE)
        pn_put_be32(file + 60, pn_crc32c(0, file, 60));
    int fd = fuzz_memfd(file, size);
    if (fd < 0) {
        free(file);
        return 0;
    }
    pn_qfile q;
    pn_buf why = PN_BUF_INIT, out = PN_BUF_INIT;
    if (pn_qfile_open(&q, fd, &why) == 0) {
        size_t pos = 0, len;
        int type;
        const char *payload;
        while (pn_qfile_next(&q, &pos, &type, &payload, &len) > 0)
            ;
        pn_qrcpt r;
        pn_qrcpt_init(&r);
        pos = 0;
        while (pn_qfile_next_rcpt(&q, &pos, 0, &r) > 0)
            ;
        pn_qrcpt_release(&r);
        pn_qfile_attr(&q, "client_addr", &out);
        pn_qfile_attr(&q, "log_ident", &out);
        pn_qfile_sender(&q, &out);
        if (q.extract_off <= size)
            q.content_crc = pn_crc32c(0, file + q.content_off, q.extract_off - q.content_off);
        pn_qfile_read_content(&q, &out, &why);
    }
    pn_qfile_release(&q);
    pn_buf_release(&why);
    pn_buf_release(&out);
    close(fd);
    free(file);
    return 0;
}
