/* cfrestrict.c: the names of the smtpd restrictions, the reference's and the ones smtpd
 * implements (smtpd/smtpd/restrict.c evaluates exactly these). */
#include "config/cfrestrict.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/strutil.h"
#include "config/cfparams.h"

const char *const pn_restriction_params[] = {PN_P(smtpd_client_restrictions),
                                             PN_P(smtpd_helo_restrictions),
                                             PN_P(smtpd_sender_restrictions),
                                             PN_P(smtpd_relay_restrictions),
                                             PN_P(smtpd_recipient_restrictions),
                                             PN_P(smtpd_etrn_restrictions),
                                             PN_P(smtpd_data_restrictions),
                                             PN_P(smtpd_end_of_data_restrictions),
                                             NULL};

/* The variants of the DNS lists are the subjects of smtpd/smtpd/smtpd.h (SMTPD_DNSBL_*). */
enum { DNSBL_CLIENT, DNSBL_RHS_CLIENT, DNSBL_RHS_REVERSE, DNSBL_RHS_SENDER, DNSBL_RHS_HELO,
       DNSBL_RHS_RECIPIENT };

static const pn_restriction_def implemented[] = {
    {"permit", PN_RX_PERMIT, 0, NULL},
    {"reject", PN_RX_REJECT, 0, NULL},
    {"defer", PN_RX_DEFER, 0, NULL},
    {"warn_if_reject", PN_RX_WARN_IF_REJECT, 0, NULL},
    {"defer_if_permit", PN_RX_DEFER_IF_PERMIT, 0, NULL},
    {"defer_if_reject", PN_RX_DEFER_IF_REJECT, 0, NULL},
    {"permit_mynetworks", PN_RX_PERMIT_MYNETWORKS, 0, NULL},
    {"permit_inet_interfaces", PN_RX_PERMIT_INET_INTERFACES, 0, NULL},
    {"permit_sasl_authenticated", PN_RX_PERMIT_SASL_AUTHENTICATED, 0, NULL},
    {"permit_tls_clientcerts", PN_RX_PERMIT_TLS_CLIENTCERTS, 0, NULL},
    {"permit_tls_all_clientcerts", PN_RX_PERMIT_TLS_ALL_CLIENTCERTS, 0, NULL},
    {"permit_auth_destination", PN_RX_AUTH_DESTINATION, 'p', NULL},
    {"reject_unauth_destination", PN_RX_AUTH_DESTINATION, 'r', NULL},
    {"defer_unauth_destination", PN_RX_AUTH_DESTINATION, 'd', NULL},
    {"permit_mx_backup", PN_RX_MX_BACKUP, 0, NULL},
    {"reject_invalid_helo_hostname", PN_RX_INVALID_HELO, 0, NULL},
    {"reject_invalid_hostname", PN_RX_INVALID_HELO, 0, NULL},
    {"reject_non_fqdn_helo_hostname", PN_RX_NON_FQDN_HELO, 0, NULL},
    {"reject_non_fqdn_hostname", PN_RX_NON_FQDN_HELO, 0, NULL},
    {"reject_unknown_helo_hostname", PN_RX_UNKNOWN_HELO, 0, NULL},
    {"reject_unknown_hostname", PN_RX_UNKNOWN_HELO, 0, NULL},
    {"reject_unknown_client_hostname", PN_RX_UNKNOWN_CLIENT, 0, NULL},
    {"reject_unknown_client", PN_RX_UNKNOWN_CLIENT, 0, NULL},
    {"reject_unknown_reverse_client_hostname", PN_RX_UNKNOWN_CLIENT, 1, NULL},
    {"reject_non_fqdn_sender", PN_RX_NON_FQDN_ADDRESS, 's', NULL},
    {"reject_non_fqdn_recipient", PN_RX_NON_FQDN_ADDRESS, 'r', NULL},
    {"reject_unknown_sender_domain", PN_RX_UNKNOWN_DOMAIN, 's', NULL},
    {"reject_unknown_recipient_domain", PN_RX_UNKNOWN_DOMAIN, 'r', NULL},
    {"reject_unlisted_sender", PN_RX_UNLISTED, 's', NULL},
    {"reject_unlisted_recipient", PN_RX_UNLISTED, 'r', NULL},
    {"reject_multi_recipient_bounce", PN_RX_MULTI_RECIPIENT_BOUNCE, 0, NULL},
    {"reject_unauth_pipelining", PN_RX_UNAUTH_PIPELINING, 0, NULL},
    {"reject_sender_login_mismatch", PN_RX_LOGIN_MISMATCH, 3, NULL},
    {"reject_authenticated_sender_login_mismatch", PN_RX_LOGIN_MISMATCH, 1, NULL},
    {"reject_known_sender_login_mismatch", PN_RX_LOGIN_MISMATCH, 7, NULL},
    {"reject_unauthenticated_sender_login_mismatch", PN_RX_LOGIN_MISMATCH, 2, NULL},
    {"check_client_access", PN_RX_ACCESS, PN_RX_KEY_CLIENT, "table"},
    {"check_reverse_client_hostname_access", PN_RX_ACCESS, PN_RX_KEY_REVERSE, "table"},
    {"check_helo_access", PN_RX_ACCESS, PN_RX_KEY_HELO, "table"},
    {"check_sender_access", PN_RX_ACCESS, PN_RX_KEY_SENDER, "table"},
    {"check_recipient_access", PN_RX_ACCESS, PN_RX_KEY_RECIPIENT, "table"},
    {"check_ccert_access", PN_RX_ACCESS, PN_RX_KEY_CCERT, "table"},
    {"reject_rbl_client", PN_RX_DNSBL, DNSBL_CLIENT, "domain name"},
    {"reject_rhsbl_client", PN_RX_DNSBL, DNSBL_RHS_CLIENT, "domain name"},
    {"reject_rhsbl_reverse_client", PN_RX_DNSBL, DNSBL_RHS_REVERSE, "domain name"},
    {"reject_rhsbl_sender", PN_RX_DNSBL, DNSBL_RHS_SENDER, "domain name"},
    {"reject_rhsbl_helo", PN_RX_DNSBL, DNSBL_RHS_HELO, "domain name"},
    {"reject_rhsbl_recipient", PN_RX_DNSBL, DNSBL_RHS_RECIPIENT, "domain name"},
    {"permit_dnswl_client", PN_RX_DNSBL, DNSBL_CLIENT | PN_RX_DNSBL_PERMIT, "domain name"},
    {"permit_rhswl_client", PN_RX_DNSBL, DNSBL_RHS_CLIENT | PN_RX_DNSBL_PERMIT, "domain name"},
    {"check_policy_service", PN_RX_POLICY, 0, "server name"},
    {"sleep", PN_RX_SLEEP, 0, "seconds"},
    {"reject_plaintext_session", PN_RX_PLAINTEXT_SESSION, 0, NULL},
    {"permit_naked_ip_address", PN_RX_NAKED_IP_ADDRESS, 0, NULL},
    {"check_sasl_access", PN_RX_ACCESS, PN_RX_KEY_SASL, "table"},
    {"check_client_a_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_CLIENT | PN_RX_SERVER_A, "table"},
    {"check_client_mx_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_CLIENT | PN_RX_SERVER_MX, "table"},
    {"check_client_ns_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_CLIENT | PN_RX_SERVER_NS, "table"},
    {"check_reverse_client_hostname_a_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_REVERSE | PN_RX_SERVER_A, "table"},
    {"check_reverse_client_hostname_mx_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_REVERSE | PN_RX_SERVER_MX, "table"},
    {"check_reverse_client_hostname_ns_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_REVERSE | PN_RX_SERVER_NS, "table"},
    {"check_helo_a_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_HELO | PN_RX_SERVER_A, "table"},
    {"check_helo_mx_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_HELO | PN_RX_SERVER_MX, "table"},
    {"check_helo_ns_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_HELO | PN_RX_SERVER_NS, "table"},
    {"check_sender_a_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_SENDER | PN_RX_SERVER_A, "table"},
    {"check_sender_mx_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_SENDER | PN_RX_SERVER_MX, "table"},
    {"check_sender_ns_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_SENDER | PN_RX_SERVER_NS, "table"},
    {"check_recipient_a_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_RECIPIENT | PN_RX_SERVER_A, "table"},
    {"check_recipient_mx_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_RECIPIENT | PN_RX_SERVER_MX, "table"},
    {"check_recipient_ns_access", PN_RX_SERVER_ACCESS, PN_RX_KEY_RECIPIENT | PN_RX_SERVER_NS, "table"},
    {NULL, 0, 0, NULL}};

static const char *const others[] = {"reject_unverified_sender",
                                     "reject_unverified_recipient",
                                     "reject_maps_rbl",
                                     "check_etrn_access",
                                     NULL};

const pn_restriction_def *pn_restriction_find(const char *name)
{
    for (int i = 0; implemented[i].name; i++)
        if (strcasecmp(implemented[i].name, name) == 0)
            return &implemented[i];
    return NULL;
}

static int listed(const char *const *names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (strcasecmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* a_class: one of smtpd_restriction_classes (their lists are checked as lists of their own) */
static int a_class(const char *name)
{
    pn_argv *classes = pn_argv_split(pn_config_get(PN_P(smtpd_restriction_classes)), PN_SEPARATORS);
    int found = 0;
    for (size_t i = 0; i < classes->len && !found; i++)
        found = strcasecmp(classes->items[i], name) == 0;
    pn_argv_free(classes);
    return found;
}

int pn_restriction_implemented(const char *name)
{
    return pn_restriction_find(name) || a_class(name);
}

int pn_restriction_known(const char *name)
{
    return pn_restriction_find(name) || listed(others, name);
}

int pn_restriction_takes_argument(const char *name)
{
    const pn_restriction_def *def = pn_restriction_find(name);
    /* the reference's check_*_access restrictions all take a table */
    return def ? def->argument != NULL
               : strncasecmp(name, "check_", 6) == 0 && strstr(name, "_access") != NULL;
}

int pn_restriction_unimplemented(const char *value, pn_buf *out)
{
    const char *why = NULL;
    pn_argv *words = pn_argv_split_grouped(value, PN_SEPARATORS, &why);
    int count = 0;
    for (size_t i = 0; words && i < words->len; i++) {
        const char *word = words->items[i];
        if (!pn_restriction_implemented(word)) {
            pn_buf_printf(out, "%s%s", count++ ? " " : "", word);
        }
        if (pn_restriction_takes_argument(word))
            i++;
    }
    if (words)
        pn_argv_free(words);
    return count;
}
