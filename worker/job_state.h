/*
 * The request state machine's names (job.c has the table, the one
 * transition function and the resume switch; docs/architecture.md, "A
 * request's life", draws it). Included by worker.h: a job carries its state.
 */
#ifndef TG_JOB_STATE_H
#define TG_JOB_STATE_H

/* Where a request is. Each waiting state says what it waits for; the resume
 * switch (tg_job_run) knows the step that follows each. */
typedef enum tg_job_state {
        TG_JOB_CONSUMED,        /* being parsed and resolved (one loop turn) */
        TG_JOB_WAIT_BUDGETS,    /* on wait_budgets: definitions (re)loading */
        TG_JOB_WAIT_SLOT,       /* on wait_admit: --admit-window is full */
        TG_JOB_ADMITTING,       /* admit.lua sent, its reply pending */
        TG_JOB_ADMIT_LATER,     /* timer: credentials, busy, a bad reply */
        TG_JOB_RATE_LIMITED,    /* timer: a budget's rpm/tpm window */
        TG_JOB_ADMIT_NO_REDIS,  /* on wait_redis, to admit again */
        TG_JOB_AT_GATE,         /* on its model gate's FIFO (rate, AIMD) */
        TG_JOB_CALLING,         /* a Bedrock attempt in curl multi */
        TG_JOB_BACKING_OFF,     /* timer: full-jitter backoff, then the gate */
        TG_JOB_SETTLING,        /* finish.lua sent, its reply pending */
        TG_JOB_SETTLE_LATER,    /* timer: events unbuildable, a bad reply */
        TG_JOB_SETTLE_NO_REDIS, /* on wait_redis, to settle again */
        TG_JOB_HELD,            /* in the outbox, waiting for its turn */
        TG_JOB_PUBLISHING,      /* produced, delivery reports pending */
        TG_JOB_DONE,            /* freed (no job is ever seen in it) */
        TG_JOB_STATES
} tg_job_state_t;

/* How a request ends (tg_job_end): the four statuses of its completion
 * event, or no events at all. */
typedef enum tg_job_end {
        TG_END_COMPLETED, /* settled, charged, events published */
        TG_END_REJECTED,  /* over a budget: settled uncharged */
        TG_END_INVALID,   /* unusable request: settled uncharged */
        TG_END_FAILED,    /* Bedrock or we failed: settled uncharged */
        TG_END_ANSWERED,  /* the ledger had its events: published again */
        TG_END_DLQ,       /* not JSON: the bytes go to the DLQ */
        TG_END_DEFERRED,  /* onExceed=defer: the bytes are parked */
        TG_END_KINDS
} tg_job_end_t;

#endif
