/*
 * reconcile --aws-cost: AWS's own Bedrock cost (an AWS Data Exports CUR
 * 2.0 CSV, gzip or not) against the usage topic, per UTC day and per
 * application inference profile (line_item_resource_id vs the events'
 * target) or per cost allocation tag (resource_tags "user:NAME" vs the
 * events' tags.NAME). docs/operations.md, "Reconciling against the AWS
 * bill", says what each difference means.
 *
 * aws_cost_cur.c reads the CSV, reconcile_aws.c replays the usage topic,
 * compares and prints. One thread; the state lives for one command.
 */
#ifndef TG_LEDGER_AWS_COST_H
#define TG_LEDGER_AWS_COST_H

#include <jansson.h>
#include <stdint.h>

#include "cli.h"
#include "strmap.h"

typedef struct tg_awscost_opts {
        const char *file;       /* the CUR 2.0 CSV, .gz or plain, "-" stdin */
        const char *tag;        /* NULL: per profile; else the tag key */
        int64_t tolerance_nano; /* per day and key, absolute */
        int json;
} tg_awscost_opts_t;

/* One (day, key): what AWS billed, what tollgate charged. */
typedef struct tg_ac_cell {
        char day[11];
        char *key; /* owned */
        int in_aws, in_tg;
        int64_t aws, tg; /* nano-USD */
        int64_t aws_lines, tg_events;
        int64_t unknown; /* failed events AWS may have billed */
} tg_ac_cell_t;

typedef struct tg_ac {
        const tg_awscost_opts_t *o;
        tg_strmap_t cells; /* "day\tkey" -> tg_ac_cell_t */
        tg_strmap_t keys;  /* key -> (void *)1 aws | 2 tollgate */
        json_t *problems;  /* [{line, reason}] input that was not compared */
        int fatal;         /* nothing from the CSV could be compared */
        int64_t rows, bedrock_rows, other_products, other_types;
        int64_t other_types_nano;
        char aws_first[11], aws_last[11]; /* days the export covers */
        char price_version[80];           /* of the newest usage event */
} tg_ac_t;

/* The cell of day and key, created when new; NULL when out of memory. */
tg_ac_cell_t *tg_ac_cell(tg_ac_t *a, const char *day, const char *key);

/* Records input that could not be compared (line 0: the file). */
void tg_ac_problem(tg_ac_t *a, int64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a profile is compared by: system profile and foundation-model ARNs
 * by the id after the last '/', application inference profile ARNs and
 * ids as they are; "" is "(no resource id)". */
void tg_ac_key_norm(const char *in, char *out, size_t size);

/* A CUR decimal ("0.0000123456789", "-1.5", "1.2E-5") into nano-USD,
 * rounded half away from zero. Returns 0 or -1. */
int tg_ac_parse_cost(const char *s, int64_t *nano);

/* Reads the CSV into a (aws side). Returns 0, or -1 when the file cannot
 * be read at all (the reason is a problem too). */
int tg_ac_read_cur(tg_ac_t *a);

/* The command. Exit codes as reconcile's. */
int tg_reconcile_aws(tg_cli_t *cli, const tg_awscost_opts_t *o);

#endif
