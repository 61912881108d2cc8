/*
 * Structured logs: one JSON object per line on stderr. Never pass a secret
 * in; callers log credential *sources*, never values.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <jansson.h>

typedef enum tg_log_level {
        TG_LOG_DEBUG,
        TG_LOG_INFO,
        TG_LOG_WARN,
        TG_LOG_ERROR,
} tg_log_level_t;

/* Sets the minimum level from "debug"/"info"/"warn"/"error" and the name
 * stamped on each line. */
void tg_log_setup(const char *level, const char *component);
int tg_log_enabled(tg_log_level_t level);

void tg_log(tg_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs `fields` (consumed: the reference is stolen) with a msg. */
void tg_log_fields(tg_log_level_t level, const char *msg, json_t *fields);

#endif
