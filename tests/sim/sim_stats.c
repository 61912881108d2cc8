#include "sim_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_stats_init(sim_stats_t *st)
{
        memset(st, 0, sizeof(*st));
        pthread_mutex_init(&st->lock, NULL);
        atomic_init(&st->in_flight, 0);
        atomic_init(&st->peak_in_flight, 0);
}

static void free_models(sim_stats_t *st)
{
        for (int i = 0; i < st->n_models; i++)
                free(st->models[i].id);
        st->n_models = 0;
}

void sim_stats_destroy(sim_stats_t *st)
{
        free_models(st);
        pthread_mutex_destroy(&st->lock);
}

void sim_stats_reset(sim_stats_t *st)
{
        pthread_mutex_lock(&st->lock);
        free_models(st);
        st->requests = st->auth_failures = st->delayed = 0;
        st->input_tokens = st->output_tokens = st->other_models = 0;
        memset(st->by_op, 0, sizeof(st->by_op));
        memset(st->by_status, 0, sizeof(st->by_status));
        memset(st->by_error, 0, sizeof(st->by_error));
        atomic_store(&st->peak_in_flight, atomic_load(&st->in_flight));
        pthread_mutex_unlock(&st->lock);
}

void sim_stats_enter(sim_stats_t *st)
{
        long now = atomic_fetch_add(&st->in_flight, 1) + 1;
        long peak = atomic_load(&st->peak_in_flight);

        while (now > peak &&
               !atomic_compare_exchange_weak(&st->peak_in_flight, &peak, now))
                ;
}

void sim_stats_leave(sim_stats_t *st)
{
        atomic_fetch_sub(&st->in_flight, 1);
}

static void count_model(sim_stats_t *st, const char *id)
{
        for (int i = 0; i < st->n_models; i++) {
                if (!strcmp(st->models[i].id, id)) {
                        st->models[i].n++;
                        return;
                }
        }
        if (st->n_models == SIM_STATS_MODELS_MAX ||
            !(st->models[st->n_models].id = strdup(id))) {
                st->other_models++;
                return;
        }
        st->models[st->n_models++].n = 1;
}

void sim_stats_record(sim_stats_t *st, const sim_stats_event_t *ev)
{
        pthread_mutex_lock(&st->lock);
        st->requests++;
        st->by_op[ev->op]++;
        if (ev->status > 0 && ev->status < SIM_STATS_STATUS_MAX)
                st->by_status[ev->status]++;
        if (ev->is_error)
                st->by_error[ev->error]++;
        st->auth_failures += ev->auth_failure ? 1 : 0;
        st->delayed += ev->delayed ? 1 : 0;
        st->input_tokens += ev->input_tokens;
        st->output_tokens += ev->output_tokens;
        if (ev->model_id && *ev->model_id)
                count_model(st, ev->model_id);
        pthread_mutex_unlock(&st->lock);
}

static json_t *status_json(const sim_stats_t *st)
{
        json_t *o = json_object();
        char key[8];

        for (int i = 0; i < SIM_STATS_STATUS_MAX; i++) {
                if (!st->by_status[i])
                        continue;
                snprintf(key, sizeof(key), "%d", i);
                json_object_set_new(o, key, json_integer(st->by_status[i]));
        }
        return o;
}

static json_t *maps_json(const sim_stats_t *st, json_t **models)
{
        json_t *errors = json_object();

        for (int i = 0; i < SIM_ERR_COUNT; i++)
                if (st->by_error[i])
                        json_object_set_new(errors,
                                            sim_err_info((sim_err_t)i)->name,
                                            json_integer(st->by_error[i]));
        *models = json_object();
        for (int i = 0; i < st->n_models; i++)
                json_object_set_new(*models, st->models[i].id,
                                    json_integer(st->models[i].n));
        if (st->other_models)
                json_object_set_new(*models, "(other)",
                                    json_integer(st->other_models));
        return errors;
}

json_t *sim_stats_to_json(sim_stats_t *st)
{
        json_t *out, *errors, *models;

        pthread_mutex_lock(&st->lock);
        errors = maps_json(st, &models);
        out = json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "requests",
            (json_int_t)st->requests, "converse",
            (json_int_t)st->by_op[SIM_STATS_CONVERSE], "invoke",
            (json_int_t)st->by_op[SIM_STATS_INVOKE], "other",
            (json_int_t)st->by_op[SIM_STATS_OTHER], "authFailures",
            (json_int_t)st->auth_failures, "delayed", (json_int_t)st->delayed,
            "inputTokens", (json_int_t)st->input_tokens, "outputTokens",
            (json_int_t)st->output_tokens, "inFlight",
            (json_int_t)atomic_load(&st->in_flight), "peakInFlight",
            (json_int_t)atomic_load(&st->peak_in_flight), "byStatus",
            status_json(st), "byErrorType", errors, "byModel", models);
        pthread_mutex_unlock(&st->lock);
        return out;
}
