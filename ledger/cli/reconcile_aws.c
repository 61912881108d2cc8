/* reconcile --aws-cost: the usage-topic half, the comparison and the
 * report (aws_cost.h). */
#include "aws_cost.h"

#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "table.h"
#include "tgtime.h"
#include "usage_event.h"

/* The UTC day a call ran: decidedAt (after the Bedrock call, nearest to
 * AWS's usage time), else the submission timestamp. */
static int event_day(json_t *ev, char *day)
{
        static const char *const names[] = {"decidedAt", "timestamp"};
        int64_t us;

        for (int i = 0; i < 2; i++) {
                const char *s =
                    json_string_value(json_object_get(ev, names[i]));
                if (s && tg_time_parse_rfc3339(s, &us) == 0) {
                        tg_period_label(TG_PERIOD_DAY, (time_t)(us / 1000000),
                                        day);
                        return 0;
                }
        }
        return -1;
}

static void event_key(const tg_ac_t *a, json_t *ev, const tg_usage_ev_t *e,
                      char *out, size_t size)
{
        const char *t;

        if (a->o->tag) {
                t = json_string_value(json_object_get(e->tags, a->o->tag));
                snprintf(out, size, "%s", t ? t : "(untagged)");
                return;
        }
        t = json_string_value(json_object_get(ev, "target"));
        tg_ac_key_norm(t ? t : e->model_id ? e->model_id : "", out, size);
}

static int on_event(json_t *ev, const char *rid, void *opaque, char *errstr,
                    size_t size)
{
        tg_ac_t *a = opaque;
        char day[TG_PERIOD_LABEL_MAX], key[512];
        const char *pv = json_string_value(json_object_get(ev, "priceVersion"));
        int approved, unknown;
        tg_usage_ev_t e;
        tg_ac_cell_t *c;

        if (tg_usage_ev_parse(ev, &e, errstr, size))
                return 1;
        approved = strcmp(e.decision, "approved") == 0;
        unknown = json_is_true(json_object_get(ev, "billingUnknown"));
        if (!approved && !unknown)
                return 0; /* AWS bills only calls that ran */
        if (event_day(ev, day))
                return snprintf(errstr, size, "no usable decidedAt/timestamp"),
                       1;
        event_key(a, ev, &e, key, sizeof(key));
        if (!(c = tg_ac_cell(a, day, key)))
                return snprintf(errstr, size, "out of memory"), -1;
        if (approved) {
                c->in_tg = 1;
                c->tg += e.cost_nano;
                c->tg_events++;
        } else {
                c->unknown++;
        }
        if (pv && strlen(pv) < sizeof(a->price_version))
                snprintf(a->price_version, sizeof(a->price_version), "%s", pv);
        int added;
        void **slot = tg_strmap_put(&a->keys, key, strlen(key), &added);
        if (slot)
                *slot = (void *)((uintptr_t)*slot | 2);
        (void)rid;
        return 0;
}

static void on_issue(const tg_replay_issue_t *is, void *opaque)
{
        fprintf(stderr,
                "warning: " TG_CLI_PROG " reconcile: %s at partition %d "
                "offset %lld: %s\n",
                is->kind == TG_REPLAY_CONFLICT ? "conflicting event"
                                               : "unusable event",
                (int)is->partition, (long long)is->offset, is->reason);
        (void)opaque;
}

static int64_t absdiff(int64_t a, int64_t b)
{
        return a > b ? a - b : b - a;
}

/* Why this cell differs (docs/operations.md, "Reconciling against the
 * AWS bill"), or NULL when it is within the tolerance. */
static const char *why(const tg_ac_t *a, const tg_ac_cell_t *c, char *buf,
                       size_t size)
{
        uintptr_t seen =
            (uintptr_t)tg_strmap_get(&a->keys, c->key, strlen(c->key));
        const char *pv = a->price_version[0] ? a->price_version : "?";
        const char *what = a->o->tag ? "tag value" : "profile";

        if (absdiff(c->aws, c->tg) <= a->o->tolerance_nano)
                return NULL;
        if (!(seen & 2))
                snprintf(buf, size,
                         "requests outside tollgate: AWS billed this %s, "
                         "tollgate has no usage for it on any day",
                         what);
        else if (!c->in_aws &&
                 (!a->aws_last[0] || strcmp(c->day, a->aws_last) > 0))
                snprintf(buf, size,
                         "billing lag: the AWS export ends on %s; usage "
                         "reaches the bill up to a day or more later",
                         a->aws_last[0] ? a->aws_last : "(no Bedrock day)");
        else if (!(seen & 1))
                snprintf(buf, size,
                         "not in the AWS export: AWS billed nothing for this "
                         "%s on any day (a tag not activated for cost "
                         "allocation, an export without resource ids, or "
                         "billing lag)",
                         what);
        else if (!c->in_aws && strcmp(c->day, a->aws_first) < 0)
                snprintf(buf, size,
                         "before the export: the AWS file starts on %s",
                         a->aws_first);
        else if (!c->in_aws)
                snprintf(buf, size,
                         "missing day: the AWS export has no line for this "
                         "%s on this day (a partial or filtered export, or "
                         "the %s not a cost allocation tag yet)",
                         what, what);
        else if (!(seen & 1) || !c->in_tg)
                snprintf(buf, size,
                         "requests outside tollgate on this day (another "
                         "application, the console, batch jobs)");
        else if (c->aws > c->tg)
                snprintf(buf, size,
                         "AWS billed more: requests outside tollgate through "
                         "this %s, %lld call(s) tollgate recorded as failed "
                         "that AWS may have billed (billingUnknown), or "
                         "catalog prices below AWS's (priceVersion %s)%s",
                         what, (long long)c->unknown, pv,
                         strcmp(c->day, a->aws_last) == 0
                             ? "; the last day may be partial"
                             : "");
        else
                snprintf(buf, size,
                         "AWS billed less: catalog prices above AWS's (a "
                         "price change since priceVersion %s?), or discounts "
                         "in the bill%s",
                         pv,
                         strcmp(c->day, a->aws_last) == 0
                             ? "; billing lag: the last day of the export "
                               "may be partial"
                             : "");
        return buf;
}

static void print_problems(const tg_ac_t *a)
{
        size_t i;
        json_t *p;

        json_array_foreach(a->problems, i, p)
        {
                json_int_t line =
                    json_integer_value(json_object_get(p, "line"));
                const char *r = json_string_value(json_object_get(p, "reason"));
                if (line > 0)
                        fprintf(stderr, "%s: line %lld: %s\n", a->o->file,
                                (long long)line, r);
                else
                        fprintf(stderr, "%s: %s\n", a->o->file, r);
        }
}

static json_t *cell_json(const tg_ac_cell_t *c, const char *reason)
{
        return json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:s?}", "day", c->day,
            "key", c->key, "awsNanoUsd", (json_int_t)c->aws, "tollgateNanoUsd",
            (json_int_t)c->tg, "diffNanoUsd", (json_int_t)(c->aws - c->tg),
            "awsLines", (json_int_t)c->aws_lines, "tollgateEvents",
            (json_int_t)c->tg_events, "match", reason == NULL, "reason",
            reason);
}

static void table_row(tg_table_t *t, const tg_ac_cell_t *c, const char *r)
{
        char aws[48], tg[48], d[48];

        tg_cli_usd9(c->aws, aws, sizeof(aws));
        tg_cli_usd9(c->tg, tg, sizeof(tg));
        tg_cli_usd9(c->aws - c->tg, d, sizeof(d));
        tg_table_cell(t, "%s", c->day);
        tg_table_cell(t, "%s", c->key);
        tg_table_cell(t, "%s", aws);
        tg_table_cell(t, "%s", tg);
        tg_table_cell(t, "%s", d);
        tg_table_cell(t, "%s", r ? "DIFF" : "ok");
        tg_table_cell(t, "%s", r ? r : "");
}

static int report(const tg_ac_t *a)
{
        static const char *const cols[] = {
            "DAY",       "KEY",    ">AWS_USD", ">TOLLGATE_USD",
            ">DIFF_USD", "STATUS", "WHY"};
        tg_strmap_entry_t *e = tg_strmap_sorted(&a->cells);
        size_t n = a->cells.n, bad = 0;
        json_t *rows = json_array();
        char buf[512];
        tg_table_t t;

        tg_table_init(&t, 7, cols);
        for (size_t i = 0; i < n && e; i++) {
                const tg_ac_cell_t *c = e[i].value;
                const char *r = why(a, c, buf, sizeof(buf));
                bad += r != NULL;
                if (a->o->json)
                        json_array_append_new(rows, cell_json(c, r));
                else
                        table_row(&t, c, r);
        }
        int ok = bad == 0 && json_array_size(a->problems) == 0 && !a->fatal;
        if (a->o->json) {
                json_t *doc = json_pack(
                    "{s:b, s:s, s:s, s:o, s:O, s:{s:I, s:I, s:I, s:I, s:I}}",
                    "ok", ok, "by", a->o->tag ? a->o->tag : "profile",
                    "priceVersion", a->price_version, "cells", rows, "problems",
                    a->problems, "stats", "rows", (json_int_t)a->rows,
                    "bedrockRows", (json_int_t)a->bedrock_rows, "otherProducts",
                    (json_int_t)a->other_products, "notUsageRows",
                    (json_int_t)a->other_types, "notUsageNanoUsd",
                    (json_int_t)a->other_types_nano);
                json_dumpf(doc, stdout, JSON_INDENT(2));
                fputc('\n', stdout);
                json_decref(doc);
        } else {
                json_decref(rows);
                tg_table_print(&t, stdout);
                print_problems(a);
                printf("reconcile --aws-cost: %zu day/%s pairs, %zu differ "
                       "beyond $%lld.%09lld; %lld CSV rows (%lld Bedrock, "
                       "%lld not usage), %zu input problems: %s\n",
                       n, a->o->tag ? a->o->tag : "profile", bad,
                       (long long)(a->o->tolerance_nano / 1000000000),
                       (long long)(a->o->tolerance_nano % 1000000000),
                       (long long)a->rows, (long long)a->bedrock_rows,
                       (long long)a->other_types, json_array_size(a->problems),
                       ok ? "OK" : "DIFFERENCES");
        }
        tg_table_free(&t);
        free(e);
        return ok ? TG_EXIT_OK : TG_EXIT_FAIL;
}

int tg_reconcile_aws(tg_cli_t *cli, const tg_awscost_opts_t *o)
{
        tg_replay_conf_t conf = {.brokers = cli->brokers,
                                 .topic = cli->usage_topic,
                                 .props = cli->props,
                                 .n_props = cli->n_props,
                                 .timeout_ms = cli->timeout_ms,
                                 .max_message = TG_CLI_MSG_MAX};
        tg_replay_stats_t stats;
        tg_ac_t a = {.o = o};
        char err[512];
        int rc;

        tg_strmap_init(&a.cells);
        tg_strmap_init(&a.keys);
        a.problems = json_array();
        tg_ac_read_cur(&a);
        if (a.fatal) {
                print_problems(&a);
                rc = tg_cli_fail(cli, "%s: nothing could be compared", o->file);
        } else if (tg_replay_run(&conf, on_event, on_issue, &a, &stats, err,
                                 sizeof(err))) {
                rc = tg_cli_fail(cli, "%s", err);
        } else {
                rc = report(&a);
        }
        tg_strmap_free(&a.keys, NULL);
        for (size_t i = 0; i < a.cells.cap; i++)
                if (a.cells.slots && a.cells.slots[i].key)
                        free(((tg_ac_cell_t *)a.cells.slots[i].value)->key);
        tg_strmap_free(&a.cells, free);
        json_decref(a.problems);
        return rc;
}
