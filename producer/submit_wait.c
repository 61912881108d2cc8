/*
 * --wait: collect the completions of the submitted requests, then write
 * one output line per input line, in input order, so that a pipeline can
 * zip its input with the output by line number.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "submit.h"
#include "tgtime.h"

typedef struct tally {
        int64_t completed, rejected, failed, invalid, missing, undelivered;
} tally_t;

static int collect(tgs_t *s)
{
        int64_t deadline = tg_mono_us() + (int64_t)(s->o.timeout_s * 1e6);
        double wanted = (double)tg_collector_wanted(s->collector);
        char err[512];

        tgs_progress_start(&s->progress);
        while (!tgs_stop && !tg_collector_done(s->collector) &&
               tg_mono_us() < deadline) {
                if (tg_collector_poll(s->collector, 100, err, sizeof(err)) <
                    0) {
                        tgs_progress_clear(&s->progress);
                        fprintf(stderr, "tollgate-submit: %s\n", err);
                        return -1;
                }
                tgs_progress_show(
                    &s->progress, "completed",
                    (int64_t)tg_collector_found(s->collector),
                    (double)tg_collector_found(s->collector) / wanted, 0);
        }
        tgs_progress_clear(&s->progress);
        return 0;
}

/* Writes a record of ours (not a worker's completion) and frees it. */
static void put_record(FILE *out, json_t *rec)
{
        char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);

        fprintf(out, "%s\n", text ? text : "{}");
        free(text);
        json_decref(rec);
}

static void count_status(tally_t *t, const char *status)
{
        if (strcmp(status, "completed") == 0)
                t->completed++;
        else if (strcmp(status, "rejected") == 0)
                t->rejected++;
        else if (strcmp(status, "invalid") == 0)
                t->invalid++;
        else
                t->failed++;
}

/* A worker's completion, passed through as published; re-dumped only if
 * it spans lines, which would break JSONL. */
static void put_completion(FILE *out, tally_t *t, const char *json, size_t len)
{
        json_t *doc = json_loadb(json, len, 0, NULL);
        json_t *st = json_object_get(doc, "status");

        count_status(t, json_is_string(st) ? json_string_value(st) : "");
        if (doc && memchr(json, '\n', len)) {
                put_record(out, doc);
                return;
        }
        fprintf(out, "%.*s\n", (int)len, json);
        json_decref(doc);
}

static void put_missing(tgs_t *s, FILE *out, tally_t *t, int64_t lineno,
                        const tgs_line_t *l)
{
        char reason[64];

        t->missing++;
        snprintf(reason, sizeof(reason),
                 tgs_stop ? "interrupted"
                          : "no completion within "
                            "%g s",
                 s->o.timeout_s);
        put_record(out, json_pack("{s:I, s:s, s:s, s:s}", "line",
                                  (json_int_t)lineno, "requestId", l->id,
                                  "status", "missing", "reason", reason));
}

static void put_line(tgs_t *s, FILE *out, tally_t *t, int64_t lineno,
                     const tgs_line_t *l)
{
        const char *json;
        size_t len;

        switch (l->kind) {
        case TGS_BLANK:
                fputc('\n', out);
                return;
        case TGS_INVALID:
                t->invalid++;
                return put_record(out,
                                  json_pack("{s:I, s:s, s:s}", "line",
                                            (json_int_t)lineno, "status",
                                            "invalid", "reason", l->reason));
        case TGS_UNDELIVERED:
                t->undelivered++;
                return put_record(out, json_pack("{s:I, s:s, s:s, s:s}", "line",
                                                 (json_int_t)lineno,
                                                 "requestId", l->id, "status",
                                                 "undelivered", "reason",
                                                 l->reason ? l->reason : ""));
        case TGS_SUBMITTED:
        case TGS_SKIPPED:
                json = tg_collector_get(s->collector, l->id, &len);
                if (json)
                        return put_completion(out, t, json, len);
                return put_missing(s, out, t, lineno, l);
        }
}

/* With --out, the output is written to FILE.tmp and renamed at the end, so
 * an interrupted run never leaves half a file where a whole one was. */
int tgs_wait_open(tgs_t *s)
{
        s->out = stdout;
        if (!s->o.out)
                return 0;
        s->out = NULL;
        if (asprintf(&s->out_tmp, "%s.tmp", s->o.out) < 0) {
                s->out_tmp = NULL;
                return -1;
        }
        s->out = fopen(s->out_tmp, "w");
        if (s->out)
                return 0;
        fprintf(stderr, "tollgate-submit: %s: %s\n", s->out_tmp,
                strerror(errno));
        return -1;
}

void tgs_wait_abandon(tgs_t *s)
{
        if (s->out && s->out != stdout)
                fclose(s->out);
        if (s->out_tmp)
                unlink(s->out_tmp);
        free(s->out_tmp);
        s->out = NULL;
        s->out_tmp = NULL;
}

static int close_out(tgs_t *s)
{
        FILE *f = s->out;
        char *tmp = s->out_tmp;

        int bad = ferror(f) || fflush(f) != 0;

        if (f != stdout) {
                bad |= fsync(fileno(f)) != 0;
                bad |= fclose(f) != 0;
                if (!bad && rename(tmp, s->o.out) != 0)
                        bad = 1;
        }
        if (bad)
                fprintf(stderr, "tollgate-submit: writing %s: %s\n",
                        s->o.out ? s->o.out : "stdout", strerror(errno));
        free(tmp);
        s->out = NULL;
        s->out_tmp = NULL;
        return bad ? -1 : 0;
}

static void wait_summary(const tgs_t *s, const tally_t *t)
{
        if (s->o.quiet)
                return;
        fprintf(stderr,
                "completed %lld, rejected %lld, failed %lld, invalid %lld, "
                "missing %lld, undelivered %lld\n",
                (long long)t->completed, (long long)t->rejected,
                (long long)t->failed, (long long)t->invalid,
                (long long)t->missing, (long long)t->undelivered);
}

static int exit_code(const tally_t *t)
{
        if (tgs_stop)
                return TGS_EXIT_INTERRUPTED;
        if (t->undelivered)
                return TGS_EXIT_ERROR;
        if (t->missing)
                return TGS_EXIT_MISSING;
        if (t->rejected || t->failed || t->invalid)
                return TGS_EXIT_NOT_OK;
        return TGS_EXIT_OK;
}

int tgs_wait(tgs_t *s)
{
        tally_t t = {0};

        if (collect(s)) {
                tgs_wait_abandon(s);
                return TGS_EXIT_ERROR;
        }
        for (int64_t i = 0; i < s->n_lines; i++)
                put_line(s, s->out, &t, i + 1, &s->lines[i]);
        if (close_out(s))
                return TGS_EXIT_ERROR;
        wait_summary(s, &t);
        return exit_code(&t);
}
