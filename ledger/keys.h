/*
 * The ledger's Redis key schema. Every key shares the hash tag "{tg}" so that
 * one Lua call can touch all of them on Redis Cluster as well.
 *
 *   tg:{tg}:budgets:version        string  INCR on every budget change
 *   tg:{tg}:budgets                hash    budget id -> definition JSON
 *   tg:{tg}:b:<id>:<period>        hash    spent, reserved, spentTokens,
 *                                          reservedTokens, approved,
 *                                          overrunNano, alert:<threshold>
 *   tg:{tg}:req:<requestId>        hash    idempotency record of a request
 *   tg:{tg}:leases                 zset    requestId by lease deadline (ms)
 *   tg:{tg}:rate:<id>:<minute>     hash    requests, tokens in that minute
 *
 * Budget ids are 1-64 of [A-Za-z0-9._-]; periods are "YYYY-MM-DD" (day),
 * "YYYY-MM" (month) or "total"; request ids are 1-128 of [A-Za-z0-9._:-].
 * Tag keys and values never appear in a key: selectors are matched in C and
 * the script gets only budget ids, so no tag can become key syntax.
 *
 * Definition JSON (the `budget set` command writes it):
 *   {"id":"eng","selector":{"costCenter":"eng"},"period":"month",
 *    "limitNanoUsd":12500000000,"limitTokens":1000000,
 *    "thresholds":[50,80,100],"rpm":0,"tpm":0,"onExceed":"reject"}
 * limitNanoUsd / limitTokens are absent when unlimited; a budget that
 * degrades adds "degradeAt":80,"degradeTier":"flex" (absent otherwise).
 * Request records (req:<id>) of degrading admissions also hold "tier" and
 * "degradedBy" (ledger/lua/admit.lua).
 */
#ifndef TG_LEDGER_KEYS_H
#define TG_LEDGER_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TG_KEY_PREFIX       "tg:{tg}:"
#define TG_KEY_VERSION      TG_KEY_PREFIX "budgets:version"
#define TG_KEY_BUDGETS      TG_KEY_PREFIX "budgets"
#define TG_KEY_LEASES       TG_KEY_PREFIX "leases"
#define TG_BUDGET_ID_MAX    64
#define TG_PERIOD_LABEL_MAX 16

typedef enum tg_period {
        TG_PERIOD_DAY,
        TG_PERIOD_MONTH,
        TG_PERIOD_TOTAL,
} tg_period_t;

/* "day"/"month"/"total" -> enum; -1 when unknown. */
int tg_period_parse(const char *s, tg_period_t *out);
const char *tg_period_name(tg_period_t p);

/* The label of the period that contains `now` (UTC): "2026-11-27",
 * "2026-11" or "total". out must hold TG_PERIOD_LABEL_MAX bytes. */
void tg_period_label(tg_period_t p, time_t now, char *out);

/* 1 when s is a valid budget id. */
int tg_budget_id_valid(const char *s);

/* Writes "tg:{tg}:b:<id>:<period>" into out. Returns the length, or -1 when
 * it does not fit. */
int tg_key_budget(char *out, size_t size, const char *id, const char *period);
int tg_key_request(char *out, size_t size, const char *request_id);
/* "tg:{tg}:rate:<id>:<minute>", minute = ms since the epoch / 60000. */
int tg_key_rate(char *out, size_t size, const char *id, int64_t minute);

#endif
