/* services.c: turns master.cf into the running service table, and merges a re-read table
 * into the running one at reload: an entry whose endpoint did not change keeps its listening
 * sockets (no connection is refused during a reload) and gets a new status pipe, so that its
 * old children retire once idle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/event.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/strutil.h"
#include "config/cfcheck.h"
#include "config/cfparams.h"
#include "master.h"

pn_service *pn_services;

void services_free(pn_service *svc)
{
    free(svc->key);
    free(svc->name);
    free(svc->type);
    free(svc->endpoint);
    pn_argv_free(svc->argv);
    free(svc->listen_fds);
    free(svc);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* inet_endpoint: the sorted list of addresses, so that "smtp" and "25" are one service. */
static int inet_endpoint(const char *name, pn_buf *out, pn_buf *err)
{
    pn_addrlist list;
    if (pn_inet_service_resolve(name, pn_config_get(PN_P(inet_interfaces)),
                                pn_config_get(PN_P(inet_protocols)),
                                pn_config_get(PN_P(known_tcp_ports)), &list, err) < 0)
        return -1;
    pn_argv *items = pn_argv_new();
    pn_buf one = PN_BUF_INIT;
    for (int i = 0; i < list.count; i++) {
        pn_buf_reset(&one);
        pn_sockaddr_format(&list.addrs[i], &one);
        pn_argv_add(items, pn_buf_str(&one));
    }
    qsort(items->items, items->len, sizeof(char *), compare_strings);
    for (size_t i = 0; i < items->len; i++)
        pn_buf_printf(out, "%s%s", i ? " " : "", items->items[i]);
    pn_buf_release(&one);
    pn_argv_free(items);
    pn_addrlist_free(&list);
    return 0;
}

static void add_flag(pn_argv *argv, const char *flag, const char *value)
{
    pn_argv_add(argv, flag);
    if (value)
        pn_argv_add(argv, value);
}

/* build_argv: the child's argument vector (doc/processes.md). */
static void build_argv(pn_service *svc, const pn_master_entry *e, int chroot, int unpriv)
{
    const char *command = e->args->items[0];
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/%s", pn_config_get(PN_P(daemon_directory)), command);
    svc->argv = pn_argv_new();
    pn_argv_add(svc->argv, path.data);
    pn_buf_release(&path);
    if (svc->max_proc == 1)
        add_flag(svc->argv, "-l", NULL);
    if (svc->max_proc == 0)
        add_flag(svc->argv, "-z", NULL);
    const char *base = strrchr(command, '/');
    if (strcmp(base ? base + 1 : command, svc->name) != 0)
        add_flag(svc->argv, "-n", svc->name);
    add_flag(svc->argv, "-t", svc->type);
    if (pn_master_debug)
        add_flag(svc->argv, "-d", NULL);
    for (int i = 0; i < pn_verbose; i++)
        add_flag(svc->argv, "-v", NULL);
    if (unpriv && pn_master_privileged)
        add_flag(svc->argv, "-u", NULL);
    if (chroot && pn_master_privileged)
        add_flag(svc->argv, "-c", NULL);
    svc->stress_arg = -1;
    if (svc->public_inet && svc->max_proc != 1) {
        add_flag(svc->argv, "-o", "stress=");
        svc->stress_arg = (int)svc->argv->len - 1;
    }
    if (svc->max_proc > 1) { /* smtpd keeps a share of its processes for other clients */
        char limit[16];
        snprintf(limit, sizeof(limit), "%d", svc->max_proc);
        add_flag(svc->argv, "-p", limit);
    }
    if (svc->listen_count > 1) {
        char count[16];
        snprintf(count, sizeof(count), "%d", svc->listen_count);
        add_flag(svc->argv, "-s", count);
    }
    for (size_t i = 1; i < e->args->len; i++)
        pn_argv_add(svc->argv, e->args->items[i]);
}

static pn_service *service_from_entry(const pn_master *m, const pn_master_entry *e, pn_buf *err)
{
    pn_service *svc = pn_calloc(1, sizeof(*svc));
    svc->name = pn_strdup(e->field[PN_MF_SERVICE]);
    svc->type = pn_strdup(e->field[PN_MF_TYPE]);
    svc->line = e->line;
    svc->status_fd[0] = svc->status_fd[1] = -1;
    pn_buf endpoint = PN_BUF_INIT, key = PN_BUF_INIT;
    pn_buf_init(&endpoint);
    if (strcmp(svc->type, "pass") == 0) {
        pn_buf_printf(err, "%s, line %d: service type \"pass\" is not supported", m->path, e->line);
        goto bad;
    }
    if (strcmp(svc->type, "inet") == 0) {
        pn_buf why = PN_BUF_INIT;
        if (inet_endpoint(svc->name, &endpoint, &why) < 0) {
            pn_buf_printf(err, "%s, line %d: %s", m->path, e->line, pn_buf_str(&why));
            pn_buf_release(&why);
            goto bad;
        }
        svc->public_inet = 1;
        svc->listen_count = 1;
        for (const char *cp = endpoint.data; (cp = strchr(cp, ' ')) != NULL; cp++)
            svc->listen_count++;
    } else {
        pn_buf_printf(&endpoint, "%s/%s/%s", pn_config_get(PN_P(queue_directory)),
                      pn_master_private(e) ? "private" : "public", svc->name);
        svc->listen_count = 1;
    }
    svc->endpoint = pn_buf_steal(&endpoint);
    pn_buf_printf(&key, "%s:%s", svc->type, svc->endpoint);
    svc->key = pn_buf_steal(&key);
    svc->max_proc = pn_master_maxproc(e);
    if (svc->max_proc < 0)
        svc->max_proc = (int)pn_config_get_int(PN_P(default_process_limit));
    svc->wakeup = pn_master_wakeup(e, &svc->wakeup_conditional);
    build_argv(svc, e, pn_master_chroot(e, pn_config_get(PN_P(compatibility_level))),
               pn_master_unpriv(e));
    return svc;
bad:
    pn_buf_release(&endpoint);
    services_free(svc);
    return NULL;
}

static pn_service *find_running(const char *key)
{
    for (pn_service *svc = pn_services; svc; svc = svc->next)
        if (!svc->removed && strcmp(svc->key, key) == 0)
            return svc;
    return NULL;
}

/* adopt: the new entry takes over a running service's sockets, children and history. */
static void adopt(pn_service *fresh, pn_service *old)
{
    fresh->listen_fds = old->listen_fds;
    old->listen_fds = NULL;
    fresh->listen_count = old->listen_count;
    /* The event loop must not keep pointing at the old entry. */
    for (int i = 0; old->listening && i < fresh->listen_count; i++)
        pn_event_unwatch(fresh->listen_fds[i]);
    fresh->status_fd[0] = old->status_fd[0];
    fresh->status_fd[1] = old->status_fd[1];
    fresh->generation = old->generation;
    fresh->total = old->total;
    fresh->available = old->available;
    fresh->listening = 0; /* children_update_listening() watches again, for fresh */
    fresh->used = old->used;
    fresh->throttle_until = old->throttle_until;
    fresh->stress_until = old->stress_until;
    fresh->stress_warned = old->stress_warned;
}

/* refused: a service that would read a parameter Postern does not implement, set to a value
 * that could weaken security or lose mail if ignored, is not started (doc/configuration.md);
 * its clients see it as down and keep their mail. */
static int refused(const pn_master *m, const pn_master_entry *e)
{
    int program = pn_program_find(e->args->items[0]);
    if (program < 0)
        return 0;
    pn_argv *settings = pn_master_overrides(e);
    pn_buf texts = PN_BUF_INIT;
    pn_config_push_overrides(settings);
    int count = pn_config_fatal_refusals(program, e->field[PN_MF_SERVICE], &texts);
    pn_config_pop_overrides();
    if (count)
        pn_error("%s, line %d: service %s is not started: %s", m->path, e->line,
                 e->field[PN_MF_SERVICE], texts.data);
    pn_buf_release(&texts);
    pn_argv_free(settings);
    return count > 0;
}

int services_load(int initial)
{
    pn_buf err = PN_BUF_INIT, path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/master.cf", pn_config_directory());
    pn_master *m = pn_master_read(path.data, 0, &err);
    pn_service *fresh = NULL, **tail = &fresh;
    for (size_t i = 0; m && i < m->count; i++) {
        if (refused(m, m->entries[i]))
            continue;
        pn_service *svc = service_from_entry(m, m->entries[i], &err);
        if (svc == NULL)
            break;
        *tail = svc;
        tail = &svc->next;
    }
    int ok = m != NULL && err.len == 0;
    pn_master_free(m);
    pn_buf_release(&path);
    if (!ok) {
        while (fresh) {
            pn_service *next = fresh->next;
            services_free(fresh);
            fresh = next;
        }
        if (initial)
            pn_fatal("%s", err.data);
        pn_error("%s: keeping the running configuration", err.data);
        pn_buf_release(&err);
        return -1;
    }
    pn_buf_release(&err);

    /* Merge: keep what is unchanged, retire what is gone, start what is new. */
    for (pn_service *svc = fresh; svc; svc = svc->next) {
        pn_service *old = find_running(svc->key);
        if (old) {
            children_disarm_timers(old);
            adopt(svc, old);
            old->removed = 2; /* replaced: its children now belong to svc */
            children_move(old, svc);
            children_new_generation(svc);
        }
    }
    for (pn_service *old = pn_services; old; old = old->next)
        if (!old->removed)
            children_stop_service(old);
    /* Replaced entries can go now; removed ones wait for their children. */
    pn_service **tailp = &fresh;
    while (*tailp)
        tailp = &(*tailp)->next;
    for (pn_service *old = pn_services, *next; old; old = next) {
        next = old->next;
        if (old->removed == 2 || (old->removed && old->total == 0)) {
            services_free(old);
        } else {
            old->removed = 1;
            old->next = NULL;
            *tailp = old;
            tailp = &old->next;
        }
    }
    pn_services = fresh;
    for (pn_service *svc = pn_services; svc; svc = svc->next)
        if (!svc->removed && svc->listen_fds == NULL)
            children_start_service(svc);
    for (pn_service *svc = pn_services; svc; svc = svc->next) {
        if (!svc->removed) {
            children_arm_timers(svc);
            children_update_listening(svc);
        }
    }
    return 0;
}

void services_reap_removed(void)
{
    for (pn_service **pp = &pn_services; *pp;) {
        pn_service *svc = *pp;
        if (svc->removed && svc->total == 0) {
            *pp = svc->next;
            services_free(svc);
        } else {
            pp = &svc->next;
        }
    }
}
