/*
 * The submit pass: one line at a time, read, validate, record its id,
 * produce. Delivery reports come back asynchronously and are counted in
 * on_delivery; the pass ends by waiting for every one of them, so the
 * summary's "submitted" is what the brokers acknowledged.
 */
#include <errno.h>
#include <string.h>

#include "submit.h"
#include "tgtime.h"

/* librdkafka queues up to 100,000 messages or 1 GiB by default; staying
 * below keeps memory bounded and produce from ever blocking. */
#define MAX_INFLIGHT       50000
#define MAX_INFLIGHT_BYTES ((size_t)256 << 20)
/* Delivery reports are served every this many lines. */
#define POLL_EVERY 256

void tgs_on_delivery(const char *id, const char *error, void *msg_opaque,
                     void *opaque)
{
        tgs_t *s = opaque;
        int64_t lineno = (int64_t)(intptr_t)msg_opaque;

        if (!error) {
                s->delivered++;
                return;
        }
        s->undelivered++;
        tgs_progress_clear(&s->progress);
        fprintf(stderr, "line %lld: not delivered: %s\n", (long long)lineno,
                error);
        if (s->lines && lineno >= 1 && lineno <= s->n_lines) {
                s->lines[lineno - 1].kind = TGS_UNDELIVERED;
                s->lines[lineno - 1].reason = strdup(error);
        }
}

static int blank(const tg_line_t *l)
{
        for (size_t i = 0; i < l->len; i++)
                if (!strchr(" \t\r", l->data[i]))
                        return 0;
        return 1;
}

static int reject(tgs_t *s, int64_t lineno, const char *reason)
{
        s->rejected++;
        tgs_progress_clear(&s->progress);
        fprintf(stderr, "line %lld: %s\n", (long long)lineno, reason);
        if (s->o.wait && !tgs_line_add(s, lineno, TGS_INVALID, NULL, reason))
                return -1;
        return tgs_sidecar_note(&s->sidecar, lineno, NULL);
}

/* A line whose explicit requestId differs from the recorded one means the
 * ids file belongs to another input: reusing it would skip or mislabel
 * requests. */
static int check_recorded(tgs_t *s, int64_t lineno, const char *old,
                          const tg_prepared_t *p)
{
        if (!old || p->filled_id || strcmp(old, p->request_id) == 0)
                return 0;
        fprintf(stderr,
                "tollgate-submit: line %lld has requestId %s but %s records "
                "%s: the ids file belongs to another input (delete it to "
                "start afresh)\n",
                (long long)lineno, p->request_id, s->sidecar.path, old);
        return -1;
}

static int already_done(tgs_t *s, int64_t lineno, const char *id)
{
        if (!s->collector || !tg_collector_get(s->collector, id, NULL))
                return 0;
        s->skipped++;
        if (tgs_sidecar_note(&s->sidecar, lineno, id) ||
            (s->o.wait && !tgs_line_add(s, lineno, TGS_SKIPPED, id, NULL)))
                return -1;
        return 1;
}

static int produce(tgs_t *s, int64_t lineno, const tg_prepared_t *p)
{
        char err[512];
        tg_submit_result_t r;

        if (tgs_sidecar_note(&s->sidecar, lineno, p->request_id))
                return -1;
        r = tg_client_produce(s->client, p, (void *)(intptr_t)lineno, err,
                              sizeof(err));
        if (r == TG_SUBMIT_INVALID)
                return reject(s, lineno, err);
        if (r == TG_SUBMIT_ERROR) {
                fprintf(stderr, "tollgate-submit: line %lld: %s\n",
                        (long long)lineno, err);
                return -1;
        }
        s->produced++;
        s->last_submitted = lineno;
        if (s->o.wait &&
            (!tgs_line_add(s, lineno, TGS_SUBMITTED, p->request_id, NULL) ||
             tg_collector_add(s->collector, p->request_id)))
                return -1;
        return 0;
}

static int handle_line(tgs_t *s, const tg_line_t *l)
{
        const char *old = tgs_sidecar_id(&s->sidecar, l->lineno);
        char err[512];
        tg_prepared_t p;
        int rc;

        if (l->over) {
                snprintf(err, sizeof(err),
                         "request is %zu bytes, over the %lld-byte limit",
                         l->len, (long long)s->cfg->max_request_bytes);
                return reject(s, l->lineno, err);
        }
        if (blank(l)) {
                if (s->o.wait &&
                    !tgs_line_add(s, l->lineno, TGS_BLANK, NULL, NULL))
                        return -1;
                return tgs_sidecar_note(&s->sidecar, l->lineno, NULL);
        }
        if (tg_submit_prepare(l->data, l->len, old,
                              (size_t)s->cfg->max_request_bytes, s->catalog, &p,
                              err, sizeof(err)) != TG_PARSE_OK)
                return reject(s, l->lineno, err);
        rc = check_recorded(s, l->lineno, old, &p);
        if (rc == 0)
                rc = already_done(s, l->lineno, p.request_id);
        if (rc == 0)
                rc = produce(s, l->lineno, &p);
        tg_prepared_release(&p);
        return rc < 0 ? -1 : 0;
}

/* Waits, serving delivery reports, while too much is in flight or the
 * --max-rate budget is spent. A signal ends the wait. */
static void throttle(tgs_t *s, int64_t lines_read)
{
        size_t bytes;
        int64_t due, wait_us;

        while (!tgs_stop &&
               (tg_client_inflight(s->client, &bytes) > MAX_INFLIGHT ||
                bytes > MAX_INFLIGHT_BYTES))
                tg_client_poll(s->client, 50);
        if (s->o.max_rate <= 0)
                return;
        due = s->progress.t0_us +
              (int64_t)((double)lines_read * 1e6 / s->o.max_rate);
        while (!tgs_stop && (wait_us = due - tg_mono_us()) > 0)
                tg_client_poll(s->client, wait_us > 100000
                                              ? 100
                                              : (int)(wait_us / 1000) + 1);
}

static double fraction(const tgs_t *s)
{
        if (!s->in_size)
                return -1;
        return (double)tg_lines_offset(s->reader) / (double)s->in_size;
}

/* Serves delivery reports; -1 when the producer failed for good. */
static int serve(tgs_t *s)
{
        char err[512];

        tg_client_poll(s->client, 0);
        if (!tg_client_last_error(s->client, err, sizeof(err)))
                return 0;
        tgs_progress_clear(&s->progress);
        fprintf(stderr, "tollgate-submit: Kafka: %s\n", err);
        return -1;
}

static int read_loop(tgs_t *s)
{
        tg_line_t line;
        int64_t n = 0;
        int r;

        while (!tgs_stop) {
                throttle(s, n);
                r = tg_lines_next(s->reader, &line);
                if (r == 0)
                        return 0;
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        tgs_progress_clear(&s->progress);
                        fprintf(stderr, "tollgate-submit: reading %s: %s\n",
                                s->o.input ? s->o.input : "stdin",
                                strerror(errno));
                        return -1;
                }
                if (handle_line(s, &line))
                        return -1;
                if (++n % POLL_EVERY == 0 && serve(s))
                        return -1;
                tgs_progress_show(&s->progress, "submitted", s->produced,
                                  fraction(s), 0);
        }
        return 0;
}

static void default_signals(void)
{
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
}

/* Waits for every delivery report. Once interrupted, a second Ctrl-C
 * kills: what was recorded in the ids file is safe already. */
static void drain(tgs_t *s)
{
        int said = 0;

        while (tg_client_flush(s->client, 200) != 0) {
                if (tgs_stop && !said) {
                        default_signals();
                        tgs_progress_clear(&s->progress);
                        fprintf(stderr,
                                "tollgate-submit: waiting for Kafka to "
                                "confirm %zu requests (Ctrl-C again to quit "
                                "at once)\n",
                                tg_client_inflight(s->client, NULL));
                        said = 1;
                }
                tgs_progress_show(&s->progress, "confirmed", s->delivered, -1,
                                  0);
        }
}

/* Lines after the last one read: counted for a file, unknown for a pipe. */
static void report_interrupt(tgs_t *s)
{
        int64_t last = 0, rest = 0;
        tg_line_t line;

        default_signals();
        if (s->in_size) {
                while (tg_lines_next(s->reader, &line) == 1) {
                        rest++;
                        last = line.lineno;
                }
        }
        if (s->last_submitted)
                fprintf(stderr,
                        "tollgate-submit: interrupted: last submitted "
                        "line %lld; ",
                        (long long)s->last_submitted);
        else
                fprintf(stderr, "tollgate-submit: interrupted: no line "
                                "submitted; ");
        if (!s->in_size)
                fprintf(stderr, "the rest of the input was not read\n");
        else if (rest)
                fprintf(stderr, "%lld lines not submitted (lines %lld-%lld)\n",
                        (long long)rest, (long long)(last - rest + 1),
                        (long long)last);
        else
                fprintf(stderr, "0 lines not submitted\n");
}

static void summary(tgs_t *s)
{
        if (s->o.quiet)
                return;
        fprintf(stderr,
                "submitted %lld, rejected %lld (invalid), "
                "undelivered %lld",
                (long long)s->delivered, (long long)s->rejected,
                (long long)s->undelivered);
        if (s->skipped)
                fprintf(stderr, ", skipped %lld (already completed)",
                        (long long)s->skipped);
        fprintf(stderr, "\n");
}

int tgs_submit(tgs_t *s)
{
        int rc;

        tgs_progress_start(&s->progress);
        rc = read_loop(s);
        drain(s);
        tgs_progress_clear(&s->progress);
        if (tgs_stop)
                report_interrupt(s);
        summary(s);
        return rc;
}
