/*
 * The HTTP side, on libmicrohttpd: a pool of epoll threads serves
 * keep-alive connections; a delayed answer suspends its connection and
 * hands it to the timer thread instead of sleeping in a pool thread.
 *
 * MHD calls on_request() several times per request: once when the
 * headers are in, once per body chunk, once when the body is complete,
 * and once more after a suspended connection is resumed.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

#define SIM_CONN_MEMORY    (32 * 1024) /* caps request line + headers */
#define SIM_IDLE_TIMEOUT_S 120
#define SIM_LISTEN_BACKLOG 4096

static int is_admin_uri(const char *uri)
{
        return !strncmp(uri, "/_sim/", 6) || !strcmp(uri, "/healthz") ||
               !strncmp(uri, "/healthz?", 9);
}

/* Called once per request with the URI exactly as sent: the only place
 * MHD shows the path before unescaping it, and SigV4 signs the raw path. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
        sim_ctx_t *ctx = cls;
        sim_req_t *req = calloc(1, sizeof(*req));

        if (!req || !(req->raw_uri = strdup(uri))) {
                free(req);
                return NULL;
        }
        tg_dynbuf_init(&req->body, ctx->opts.max_body_bytes);
        req->admin = is_admin_uri(uri);
        req->seq = atomic_fetch_add(&ctx->seq, 1);
        if (!req->admin)
                sim_stats_enter(&ctx->stats);
        return req;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        sim_ctx_t *ctx = cls;
        sim_req_t *req = *con_cls;

        if (!req)
                return;
        if (!req->admin)
                sim_stats_leave(&ctx->stats);
        sim_reply_clear(&req->reply);
        tg_dynbuf_free(&req->body);
        free(req->raw_uri);
        free(req);
        *con_cls = NULL;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value)
{
        sim_req_t *req = cls;

        if (req->n_headers == SIM_MAX_REQ_HEADERS) {
                req->too_many_headers = 1;
                return MHD_NO;
        }
        req->headers[req->n_headers].name = key;
        req->headers[req->n_headers].value = value ? value : "";
        req->n_headers++;
        return MHD_YES;
}

static void record(sim_ctx_t *ctx, const sim_req_t *req)
{
        const sim_reply_t *r = &req->reply;
        sim_stats_event_t ev = {
            .op = req->op == SIM_OP_CONVERSE ? SIM_STATS_CONVERSE
                  : req->op == SIM_OP_INVOKE ? SIM_STATS_INVOKE
                                             : SIM_STATS_OTHER,
            .model_id = req->model_id,
            .status = r->status,
            .is_error = r->is_error,
            .error = r->error,
            .auth_failure = r->auth_failure,
            .delayed = req->latency_ms > 0,
            .input_tokens = r->input_tokens,
            .output_tokens = r->output_tokens,
        };

        sim_stats_record(&ctx->stats, &ev);
        if (ctx->opts.verbose && r->is_error)
                fprintf(stderr, "tollgate-bedrock-sim: %d %s %s %s\n",
                        r->status, sim_err_info(r->error)->name, req->method,
                        req->raw_path);
}

static void add_headers(struct MHD_Response *resp, const sim_req_t *req)
{
        const sim_reply_t *r = &req->reply;
        char type[160];

        MHD_add_response_header(resp, "Content-Type",
                                r->content_type ? r->content_type
                                                : "text/plain");
        MHD_add_response_header(resp, "x-amzn-RequestId", req->request_id);
        if (r->is_error) {
                const sim_err_info_t *info = sim_err_info(r->error);

                snprintf(type, sizeof(type), "%s:%s", info->name, info->ns);
                MHD_add_response_header(resp, "x-amzn-ErrorType", type);
        }
        for (int i = 0; i < r->n_headers; i++)
                MHD_add_response_header(resp, r->headers[i].name,
                                        r->headers[i].value);
}

static enum MHD_Result send_reply(sim_ctx_t *ctx, struct MHD_Connection *c,
                                  sim_req_t *req)
{
        sim_reply_t *r = &req->reply;
        struct MHD_Response *resp;
        enum MHD_Result rc;

        if (r->body)
                resp = MHD_create_response_from_buffer_with_free_callback(
                    r->body_len, r->body, free);
        else
                resp = MHD_create_response_from_buffer(0, "",
                                                       MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        r->body = NULL; /* the response owns it now */
        add_headers(resp, req);
        rc = MHD_queue_response(c, (unsigned)r->status, resp);
        MHD_destroy_response(resp);
        if (!req->admin)
                record(ctx, req);
        return rc;
}

static void split_uri(sim_req_t *req)
{
        char *q = strchr(req->raw_uri, '?');

        req->raw_path = req->raw_uri;
        req->raw_query = NULL;
        if (q) {
                *q = '\0';
                req->raw_query = q + 1;
        }
}

/* A declared body over the cap is still read, so that the client sees
 * the answer instead of a reset connection, but none of it is kept. */
static void reserve_body(sim_ctx_t *ctx, struct MHD_Connection *c,
                         sim_req_t *req)
{
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;

        if (n > ctx->opts.max_body_bytes)
                req->body_overflow = 1;
}

static enum MHD_Result on_headers(sim_ctx_t *ctx, struct MHD_Connection *c,
                                  sim_req_t *req, const char *method)
{
        req->started = 1;
        req->method = method;
        split_uri(req);
        MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, req);
        sim_rng_init(&req->rng, ctx->seed, req->seq);
        sim_rng_uuid(&req->rng, req->request_id);
        reserve_body(ctx, c, req);
        return MHD_YES;
}

/* Over the cap (or out of memory) the rest is read and dropped, and the
 * answer says so (sim_dispatch.c). */
static void absorb(sim_req_t *req, const char *data, size_t n)
{
        if (!req->body_overflow && tg_dynbuf_add(&req->body, data, n))
                req->body_overflow = 1;
}

static void resume_cb(void *item)
{
        MHD_resume_connection(item);
}

static enum MHD_Result delay(sim_ctx_t *ctx, struct MHD_Connection *c,
                             sim_req_t *req)
{
        uint64_t due = sim_now_ns() + req->latency_ms * 1000000ULL;

        req->reply_ready = 1;
        MHD_suspend_connection(c);
        /* Timer full or stopping: answer now rather than never. */
        if (sim_timer_add(&ctx->timer, due, c))
                MHD_resume_connection(c);
        return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
        sim_ctx_t *ctx = cls;
        sim_req_t *req = *con_cls;

        if (!req)
                return MHD_NO; /* out of memory in on_uri */
        if (req->reply_ready)
                return send_reply(ctx, c, req);
        if (!req->started)
                return on_headers(ctx, c, req, method);
        if (*upload_size) {
                absorb(req, upload, *upload_size);
                *upload_size = 0;
                return MHD_YES;
        }
        sim_dispatch(ctx, req);
        if (req->latency_ms && req->reply.status == 200)
                return delay(ctx, c, req);
        return send_reply(ctx, c, req);
}

static unsigned pool_size(const sim_opts_t *o)
{
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        if (o->threads)
                return o->threads;
        return cpus > 2 ? (unsigned)cpus : 2;
}

int sim_server_start(sim_ctx_t *ctx, char *errstr, size_t errstr_size)
{
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)ctx->opts.port)};
        const union MHD_DaemonInfo *info;

        if (inet_pton(AF_INET, ctx->opts.bind, &sa.sin_addr) != 1) {
                snprintf(errstr, errstr_size, "bad bind address '%s'",
                         ctx->opts.bind);
                return -1;
        }
        if (sim_timer_start(&ctx->timer, resume_cb, errstr, errstr_size))
                return -1;
        ctx->daemon = MHD_start_daemon(
            MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                MHD_USE_ERROR_LOG,
            (uint16_t)ctx->opts.port, NULL, NULL, on_request, ctx,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, ctx,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, ctx,
            MHD_OPTION_THREAD_POOL_SIZE, pool_size(&ctx->opts),
            MHD_OPTION_CONNECTION_LIMIT, ctx->opts.max_connections,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SIM_CONN_MEMORY,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SIM_IDLE_TIMEOUT_S,
            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)SIM_LISTEN_BACKLOG,
            MHD_OPTION_END);
        if (!ctx->daemon) {
                snprintf(errstr, errstr_size, "cannot listen on %s:%u",
                         ctx->opts.bind, ctx->opts.port);
                sim_timer_destroy(&ctx->timer);
                return -1;
        }
        info = MHD_get_daemon_info(ctx->daemon, MHD_DAEMON_INFO_BIND_PORT);
        ctx->port = info ? info->port : (unsigned short)ctx->opts.port;
        return 0;
}

void sim_server_stop(sim_ctx_t *ctx)
{
        MHD_socket lsock;

        if (!ctx->daemon)
                return;
        lsock = MHD_quiesce_daemon(ctx->daemon);
        /* MHD must not be stopped with suspended connections: the timer
         * resumes every pending one on its way out, then MHD gets a
         * moment to send those answers. */
        sim_timer_stop(&ctx->timer);
        for (int i = 0; i < 200 && atomic_load(&ctx->stats.in_flight) > 0; i++)
                usleep(10000);
        MHD_stop_daemon(ctx->daemon);
        sim_timer_destroy(&ctx->timer);
        if (lsock != MHD_INVALID_SOCKET)
                close(lsock);
        ctx->daemon = NULL;
}
