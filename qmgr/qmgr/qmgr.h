/* qmgr.h: the queue manager's parts. */
#ifndef PN_QMGR_H
#define PN_QMGR_H
#include <stdint.h>

/* message.c: deliver one file of the active queue, then remove or defer it. */
void message_process(const char *id, int64_t active_us);
/* scan.c */
void scan_recover(void);
void scan_queue(const char *queue, int ignore_time);
void defer_file(const char *id, int64_t arrival_sec);
void corrupt_file(const char *id, const char *why);

#endif
