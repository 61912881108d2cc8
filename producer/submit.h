/*
 * tollgate-submit's insides (tgs_ prefix): options, the submit pass, the
 * ids sidecar, progress, and the --wait pass. The library it drives is
 * tollgate.h.
 */
#ifndef TGS_SUBMIT_H
#define TGS_SUBMIT_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "tollgate.h"

/* Exit codes, as --help documents them. */
#define TGS_EXIT_OK 0
#define TGS_EXIT_ERROR                                                         \
        1 /* I/O, Kafka; without --wait also any                               \
           * rejected or undelivered line */
#define TGS_EXIT_USAGE       2
#define TGS_EXIT_NOT_OK      3 /* --wait: some rejected/failed/invalid */
#define TGS_EXIT_MISSING     4 /* --wait: some without completion */
#define TGS_EXIT_INTERRUPTED 130

/* Set by the SIGINT/SIGTERM handler, read everywhere else. */
extern volatile sig_atomic_t tgs_stop;

typedef struct tgs_opts {
        const char *input; /* NULL: stdin */
        const char *topic; /* full requests topic name */
        const char *out;   /* --wait output; NULL: stdout */
        const char *ids_file;
        const char *catalog; /* NULL: models are checked by the worker */
        int wait;
        int quiet;
        double timeout_s;
        double progress_s; /* 0: 0.1 s on a terminal, 5 s otherwise */
        double max_rate;   /* lines per second, 0 = unlimited */
} tgs_opts_t;

/* Parses what tg_config_load left in argv. Returns 0, or -1 after printing
 * the error (exit 2). */
int tgs_opts_parse(tgs_opts_t *o, int argc, char **argv);
void tgs_usage_head(FILE *out);
void tgs_usage_tail(FILE *out);

/* ---- submit_sidecar.c: the <input>.tollgate-ids file ---- */

typedef struct tgs_sidecar {
        char *path;
        char **ids; /* ids read at start, one per input line; NULL for
                     * a line that had none (blank, invalid) */
        int64_t n_ids;
        int64_t n_lines;     /* lines in the file now */
        int fd;              /* appending; -1 when there is no sidecar */
        int64_t *patch_line; /* lines whose recorded "none" became an id */
        char **patch_id;
        size_t n_patch;
} tgs_sidecar_t;

/* Loads path when it exists and opens it for appending. path NULL: no
 * sidecar (every call below is a no-op). Returns 0 or -1 after printing. */
int tgs_sidecar_open(tgs_sidecar_t *sc, const char *path);
/* The id recorded for a 1-based line, or NULL. */
const char *tgs_sidecar_id(const tgs_sidecar_t *sc, int64_t lineno);
/* Records line's id (NULL: none) before it is produced. 0 or -1. */
int tgs_sidecar_note(tgs_sidecar_t *sc, int64_t lineno, const char *id);
/* fsyncs, applies patches (atomically, by rename), closes. 0 or -1. */
int tgs_sidecar_close(tgs_sidecar_t *sc);

/* ---- submit_progress.c ---- */

typedef struct tgs_progress {
        int enabled;
        int tty;
        int64_t interval_us;
        int64_t t0_us;
        int64_t last_us;
        int drawn; /* a tty line is on screen */
} tgs_progress_t;

void tgs_progress_init(tgs_progress_t *p, const tgs_opts_t *o);
void tgs_progress_start(tgs_progress_t *p);
/* done of total (0 = unknown); frac_done in [0,1] or < 0 when unknown. */
void tgs_progress_show(tgs_progress_t *p, const char *what, int64_t done,
                       double frac_done, int force);
/* Erases a tty progress line so that a message can take its place (the
 * next show redraws it). */
void tgs_progress_clear(tgs_progress_t *p);

/* ---- the run ---- */

typedef enum tgs_kind {
        TGS_BLANK,
        TGS_INVALID,
        TGS_SUBMITTED,
        TGS_SKIPPED, /* had a completion already (resume) */
        TGS_UNDELIVERED,
} tgs_kind_t;

/* One input line, kept only with --wait (output is in input order). */
typedef struct tgs_line {
        char *id;     /* owned; NULL for blank and invalid lines */
        char *reason; /* owned; invalid or undelivered */
        tgs_kind_t kind;
} tgs_line_t;

typedef struct tgs {
        tgs_opts_t o;
        tg_config_t *cfg;
        tg_client_conf_t cconf;
        tg_catalog_t *catalog;
        tg_client_t *client;
        tg_collector_t *collector; /* --wait only */
        tgs_sidecar_t sidecar;
        tgs_progress_t progress;
        int fd_in;
        uint64_t in_size; /* 0 when not a regular file */
        tg_lines_t *reader;
        tgs_line_t *lines; /* --wait: n_lines records */
        int64_t n_lines;
        size_t cap_lines;
        int64_t produced, delivered, undelivered, rejected, skipped;
        int64_t last_submitted; /* line number */
        FILE *out;              /* --wait output */
        char *out_tmp;          /* --out FILE.tmp, renamed at the end */
} tgs_t;

/* submit_run.c: reads, validates, produces, waits for delivery. Returns
 * 0, or -1 on a fatal error (printed). */
int tgs_submit(tgs_t *s);
/* The client's on_delivery (opaque = the tgs_t, msg_opaque = line). */
void tgs_on_delivery(const char *id, const char *error, void *msg_opaque,
                     void *opaque);
/* submit_lines.c: the --wait line records. */
tgs_line_t *tgs_line_add(tgs_t *s, int64_t lineno, tgs_kind_t kind,
                         const char *id, const char *reason);
void tgs_lines_free(tgs_t *s);
/* submit_resume.c: with --wait and recorded ids, finds those already
 * completed. 0 or -1. */
int tgs_resume_scan(tgs_t *s);
/* submit_wait.c: opens the output first, so that a bad --out fails before
 * anything is submitted; tgs_wait collects, writes the output and returns
 * the exit code; abandon removes a half-written --out. */
int tgs_wait_open(tgs_t *s);
int tgs_wait(tgs_t *s);
void tgs_wait_abandon(tgs_t *s);

#endif
