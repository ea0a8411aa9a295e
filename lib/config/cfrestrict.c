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
                                             NULL};

static const char *const implemented[] = {"permit",
                                          "reject",
                                          "defer",
                                          "permit_mynetworks",
                                          "permit_sasl_authenticated",
                                          "reject_unauth_destination",
                                          "defer_unauth_destination",
                                          "permit_auth_destination",
                                          "reject_invalid_helo_hostname",
                                          "reject_invalid_hostname",
                                          "reject_non_fqdn_helo_hostname",
                                          "reject_non_fqdn_hostname",
                                          "reject_non_fqdn_recipient",
                                          "reject_non_fqdn_sender",
                                          "check_client_access",
                                          "check_helo_access",
                                          "check_sender_access",
                                          "check_recipient_access",
                                          "reject_unknown_client_hostname",
                                          "reject_unknown_client",
                                          "reject_unknown_reverse_client_hostname",
                                          "reject_sender_login_mismatch",
                                          "reject_authenticated_sender_login_mismatch",
                                          "reject_known_sender_login_mismatch",
                                          "reject_unauthenticated_sender_login_mismatch",
                                          "reject_unknown_sender_domain",
                                          "reject_unknown_recipient_domain",
                                          "permit_tls_clientcerts",
                                          "permit_tls_all_clientcerts",
                                          "check_ccert_access",
                                          "reject_rbl_client",
                                          "reject_rhsbl_client",
                                          "reject_rhsbl_reverse_client",
                                          "reject_rhsbl_sender",
                                          "reject_rhsbl_helo",
                                          "permit_dnswl_client",
                                          "permit_rhswl_client",
                                          "check_policy_service",
                                          "warn_if_reject",
                                          "defer_if_permit",
                                          "defer_if_reject",
                                          "permit_inet_interfaces",
                                          "sleep",
                                          "reject_multi_recipient_bounce",
                                          "reject_unlisted_recipient",
                                          NULL};

static const char *const others[] = {"defer_if_permit",
                                     "permit_mx_backup",
                                     "reject_unauth_pipelining",
                                     "reject_unknown_helo_hostname",
                                     "reject_unknown_hostname",
                                     "reject_unlisted_sender",
                                     "reject_unverified_sender",
                                     "reject_unverified_recipient",
                                     "reject_rhsbl_recipient",
                                     "reject_maps_rbl",
                                     "check_reverse_client_hostname_access",
                                     "check_client_a_access",
                                     "check_client_mx_access",
                                     "check_client_ns_access",
                                     "check_reverse_client_hostname_a_access",
                                     "check_reverse_client_hostname_mx_access",
                                     "check_reverse_client_hostname_ns_access",
                                     "check_helo_a_access",
                                     "check_helo_mx_access",
                                     "check_helo_ns_access",
                                     "check_sender_a_access",
                                     "check_sender_mx_access",
                                     "check_sender_ns_access",
                                     "check_recipient_a_access",
                                     "check_recipient_mx_access",
                                     "check_recipient_ns_access",
                                     "check_sasl_access",
                                     "reject_plaintext_session",
                                     "permit_naked_ip_address",
                                     "check_etrn_access",
                                     NULL};

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
    return listed(implemented, name) || a_class(name);
}

int pn_restriction_known(const char *name)
{
    return listed(implemented, name) || listed(others, name);
}

int pn_restriction_takes_argument(const char *name)
{
    /* check_*_access take a table, check_policy_service a server, the DNS lists a domain,
     * sleep its seconds */
    return (strncasecmp(name, "check_", 6) == 0 && strstr(name, "_access")) ||
           strcasecmp(name, "check_policy_service") == 0 || strcasecmp(name, "sleep") == 0 ||
           strncasecmp(name, "reject_rbl_", 11) == 0 ||
           strcasecmp(name, "reject_rbl_client") == 0 ||
           strncasecmp(name, "reject_rhsbl_", 13) == 0 ||
           strcasecmp(name, "permit_dnswl_client") == 0 ||
           strcasecmp(name, "permit_rhswl_client") == 0;
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
