#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgtime.h"

static tg_log_level_t min_level = TG_LOG_INFO;
static char component[64] = "tollgate";

static const char *level_names[] = {"debug", "info", "warn", "error"};

void tg_log_setup(const char *level, const char *comp)
{
        for (int i = 0; i < 4; i++)
                if (level && strcmp(level, level_names[i]) == 0)
                        min_level = (tg_log_level_t)i;
        if (comp)
                snprintf(component, sizeof(component), "%s", comp);
}

int tg_log_enabled(tg_log_level_t level)
{
        return level >= min_level;
}

void tg_log_fields(tg_log_level_t level, const char *msg, json_t *fields)
{
        char ts[40];
        char *line;

        if (!tg_log_enabled(level)) {
                json_decref(fields);
                return;
        }
        if (!fields)
                fields = json_object();
        tg_time_format_us(tg_time_now_us(), ts, sizeof(ts));
        json_object_set_new(fields, "ts", json_string(ts));
        json_object_set_new(fields, "level", json_string(level_names[level]));
        json_object_set_new(fields, "component", json_string(component));
        json_object_set_new(fields, "msg", json_string(msg));
        line = json_dumps(fields, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (line) {
                fprintf(stderr, "%s\n", line);
                free(line);
        }
        json_decref(fields);
}

void tg_log(tg_log_level_t level, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        if (!tg_log_enabled(level))
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        tg_log_fields(level, msg, NULL);
}
