#include "status.h"

static const struct {
        const char *name, *decision;
} names[TG_STATUS_COUNT] = {
    [TG_STATUS_COMPLETED] = {"completed", "approved"},
    [TG_STATUS_REJECTED] = {"rejected", "rejected_budget"},
    [TG_STATUS_INVALID] = {"invalid", "invalid"},
    [TG_STATUS_FAILED] = {"failed", "failed"},
};

const char *tg_status_name(tg_status_t s)
{
        return (unsigned)s < TG_STATUS_COUNT ? names[s].name : "unknown";
}

const char *tg_status_decision(tg_status_t s)
{
        return (unsigned)s < TG_STATUS_COUNT ? names[s].decision : "unknown";
}
