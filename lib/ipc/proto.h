/* proto.h: the vocabulary of the internal protocols (doc/protocols.md): service endpoints,
 * protocol names announced in hellos, request names, attribute names and trigger bytes.
 * Every process names these through this header, never with literals of its own, so that a
 * name is changed in one place and a typo is a compile error. */
#ifndef PN_IPC_PROTO_H
#define PN_IPC_PROTO_H

/* Endpoints, relative to the queue directory (where daemons run, chrooted or not). */
#define PN_SVC_CLEANUP "public/cleanup"
#define PN_SVC_QMGR "public/qmgr"
#define PN_SVC_PICKUP "public/pickup"
#define PN_SVC_FLUSH "public/flush"
#define PN_SVC_SHOWQ "public/showq"
#define PN_SVC_REWRITE "private/rewrite"
#define PN_SVC_BOUNCE "private/bounce"
#define PN_SVC_TLSMGR "private/tlsmgr"
#define PN_SVC_ANVIL "private/anvil"
#define PN_SVC_PRIVATE "private/" /* + transport name: a delivery agent */

/* Protocol names (the hello's "proto"). */
#define PN_PROTO_CLEANUP "cleanup"
#define PN_PROTO_REWRITE "rewrite"
#define PN_PROTO_DELIVER "deliver"
#define PN_PROTO_BOUNCE "bounce"
#define PN_PROTO_FLUSH "flush"
#define PN_PROTO_SHOWQ "showq"
#define PN_PROTO_TLSMGR "tlsmgr"
#define PN_PROTO_ANVIL "anvil"

/* Requests ("req"). */
#define PN_REQ_OPEN "open"           /* cleanup: a new message */
#define PN_REQ_NEW "new"             /* qmgr: this queue file is complete */
#define PN_REQ_REWRITE "rewrite"     /* trivial-rewrite */
#define PN_REQ_RESOLVE "resolve"     /* trivial-rewrite */
#define PN_REQ_VERIFY "verify"       /* trivial-rewrite, as resolve */
#define PN_REQ_DELIVER "deliver"     /* delivery agents */
#define PN_REQ_FLUSH "flush"         /* bounce: the failure notice */
#define PN_REQ_WARN "warn"           /* bounce: the delay notice */
#define PN_REQ_TRACE "trace"         /* bounce: the success or verification report */
#define PN_REQ_SEND_SITE "send_site" /* flush */
#define PN_REQ_SEND_FILE "send_file" /* flush */
#define PN_REQ_ADD "add"             /* flush */
#define PN_REQ_REFRESH "refresh"     /* flush */
#define PN_REQ_PURGE "purge"         /* flush */
#define PN_REQ_LIST "list"           /* showq */
#define PN_REQ_TKTKEY "tktkey"       /* tlsmgr: a session ticket key */
#define PN_REQ_LOOKUP "lookup"       /* tlsmgr: a cached TLS session */
#define PN_REQ_UPDATE "update"       /* tlsmgr */
#define PN_REQ_DELETE "delete"       /* tlsmgr */
/* anvil: one event of a client (ident "service:address"), answered with its count and
 * rate; newtls_report and lookup count nothing */
#define PN_REQ_CONNECT "connect"
#define PN_REQ_DISCONNECT "disconnect"
#define PN_REQ_MESSAGE "message"
#define PN_REQ_RECIPIENT "recipient"
#define PN_REQ_NEWTLS "newtls"
#define PN_REQ_NEWTLS_REPORT "newtls_report"
#define PN_REQ_AUTH "auth"

/* Attributes. */
#define PN_ATTR_PROTO "proto"
#define PN_ATTR_VER "ver"
#define PN_ATTR_GEN "gen"
#define PN_ATTR_REQ "req"
#define PN_ATTR_STATUS "status"
#define PN_ATTR_REASON "reason"
#define PN_ATTR_FLAGS "flags"
#define PN_ATTR_QUEUE "queue"
#define PN_ATTR_QUEUE_ID "queue_id"
#define PN_ATTR_SENDER "sender"
#define PN_ATTR_RCPT "rcpt"
#define PN_ATTR_ADDR "addr"
#define PN_ATTR_ORIG "orig"
#define PN_ATTR_ORCPT "orcpt"
#define PN_ATTR_NOTIFY "notify"
#define PN_ATTR_OFFSET "offset"
#define PN_ATTR_RULE "rule"
#define PN_ATTR_KEYNAME "keyname" /* tlsmgr */
#define PN_ATTR_KEY "key"
#define PN_ATTR_EXPIRES "expires"
#define PN_ATTR_CACHE "cache"
#define PN_ATTR_ID "id"
#define PN_ATTR_SESSION "session"
#define PN_ATTR_IDENT "ident" /* anvil */
#define PN_ATTR_COUNT "count"
#define PN_ATTR_RATE "rate"
#define PN_ATTR_RESULT "result"
#define PN_ATTR_TRANSPORT "transport"
#define PN_ATTR_NEXTHOP "nexthop"
#define PN_ATTR_RECIPIENT "recipient"
#define PN_ATTR_ARRIVAL "arrival"
#define PN_ATTR_ACTIVE "active"
#define PN_ATTR_LAST "last"
#define PN_ATTR_DEAD "dead"
#define PN_ATTR_SITE "site"
#define PN_ATTR_SCAN "scan" /* qmgr notice: notices were lost, scan incoming/ too */
/* showq's listing */
#define PN_ATTR_MSG "msg"
#define PN_ATTR_SIZE "size"
#define PN_ATTR_FORCED_EXPIRE "forced_expire"
/* status logs (bounce, defer, trace) */
#define PN_ATTR_ACTION "action"
#define PN_ATTR_DSN "dsn"
#define PN_ATTR_TEXT "text"
/* the agent's workers (lib/mail/worker.c) */
#define PN_ATTR_KIND "kind"
#define PN_ATTR_PATH "path"
#define PN_ATTR_LIMIT "limit"
#define PN_ATTR_ARG "arg"
#define PN_ATTR_V "v"
#define PN_ATTR_DIRECTORY "directory"
#define PN_ATTR_EOL "eol"
#define PN_ATTR_DATA "data"
#define PN_ATTR_ENV "env"       /* a group: one NAME=value in PN_ATTR_V */
#define PN_ATTR_LABEL "label"   /* a command as it is logged */
#define PN_ATTR_LOOP "loop"     /* 1: check Delivered-To for a loop first */
#define PN_ATTR_STRICT "strict" /* 1: an mbox must be owned by the worker's user */
#define PN_ATTR_LOCK "lock"     /* the mbox lock methods */
#define PN_ATTR_DOTLOCK_MAY_FAIL "dotlock_may_fail"

/* Trigger bytes to public/qmgr and public/pickup. */
#define PN_TRIGGER_INCOMING 'I' /* scan incoming/ */
#define PN_TRIGGER_DEFERRED 'D' /* scan deferred/ for mail that is due */
#define PN_TRIGGER_ALL 'A'      /* scan deferred/, due or not */
#define PN_TRIGGER_FLUSH 'F'    /* forget dead destinations */
#define PN_TRIGGER_WAKEUP 'W'   /* a periodic wakeup (master, postdrop) */

#endif
