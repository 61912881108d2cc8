/* The names of tg_status_t (status.h), indexed by it. tests/integration/
 * test_deploy_files.py checks both lists against the event schemas. */
#include "status.h"

static const char *const status_name[TG_STATUS_COUNT] = {
    "completed", "rejected", "invalid", "failed"};

static const char *const decision_name[TG_STATUS_COUNT] = {
    "approved", "rejected_budget", "invalid", "failed"};

const char *tg_status_name(tg_status_t s)
{
        return (unsigned)s < TG_STATUS_COUNT ? status_name[s] : "unknown";
}

const char *tg_status_decision(tg_status_t s)
{
        return (unsigned)s < TG_STATUS_COUNT ? decision_name[s] : "unknown";
}
