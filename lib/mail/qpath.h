/* qpath.h: queue names, queue IDs (the reference's short hex and long base-52 forms) and the
 * paths of queue files, hashed for the queues named in hash_queue_names. */
#ifndef PN_MAIL_QPATH_H
#define PN_MAIL_QPATH_H
#include <sys/time.h>
#include <sys/types.h>

#include "base/buf.h"

#define PN_QID_MAX 32

/* pn_qid_make: the ID for a file created at tv with inode ino. */
void pn_qid_make(const struct timeval *tv, ino_t ino, int long_form, pn_buf *out);
/* pn_qid_parse: the time (the short form holds microseconds only) and inode an ID was made
 * from, and its form; -1 when the name is not an ID of either form. */
int pn_qid_parse(const char *id, struct timeval *tv, unsigned long long *ino, int *long_form);
/* pn_qid_valid: only letters and digits, of a sane length. */
int pn_qid_valid(const char *id);
/* pn_queue_hashed: the queue hashes its file names (hash_queue_names). */
int pn_queue_hashed(const char *queue);
/* pn_queue_path: "queue/ID", or "queue/C/ID" (depth 1) for hashed queues; relative to the
 * queue directory. */
void pn_queue_path(const char *queue, const char *id, pn_buf *out);
/* pn_queue_make_parent: create the hash subdirectory that path (from pn_queue_path) lives
 * in, if it is missing; 0, or -1 with errno set. */
int pn_queue_make_parent(const char *path);
/* pn_queue_walk: fn(path, id, ctx) for every file named like a queue ID in dir (a queue,
 * relative to the queue directory) and its one-character hash subdirectories, however deep
 * hash_queue_depth was when they were made (at most 4). Returns how many calls returned
 * more than zero; a call that returns less than zero ends the walk. fn may rename or remove
 * the file it is given. */
int pn_queue_walk(const char *dir, int (*fn)(const char *path, const char *id, void *ctx),
                  void *ctx);
/* pn_queue_walk_all: the same, and other files too, with id NULL (temporary names). */
int pn_queue_walk_all(const char *dir, int (*fn)(const char *path, const char *id, void *ctx),
                      void *ctx);
/* pn_queue_create: create a new file in queue (relative to the queue directory, where the
 * process runs): a temporary name, then renamed to its ID without replacing anything. Returns
 * the open descriptor (mode 0600, locked exclusively until pn_qw_install completes it) with
 * the ID in id, or -1 with why set. */
int pn_queue_create(const char *queue, int long_form, pn_buf *id, struct timeval *created,
                    pn_buf *why);

#endif
