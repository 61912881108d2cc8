/*
 * How a request ended, and its names: the completion event's `status`, the
 * usage event's `decision` (docs/usage-events.md) and the metrics' and
 * decision log's label. The one table of them.
 */
#ifndef TG_STATUS_H
#define TG_STATUS_H

typedef enum tg_status {
        TG_STATUS_COMPLETED,
        TG_STATUS_REJECTED,
        TG_STATUS_INVALID,
        TG_STATUS_FAILED,
        TG_STATUS_COUNT
} tg_status_t;

/* "completed", "rejected", "invalid", "failed" ("unknown" out of range). */
const char *tg_status_name(tg_status_t s);
/* "approved", "rejected_budget", "invalid", "failed". */
const char *tg_status_decision(tg_status_t s);

#endif
