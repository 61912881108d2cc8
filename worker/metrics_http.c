/* /metrics, /healthz and /readyz on libmicrohttpd's own thread. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, char *body, int owned)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
            strlen(body), body,
            owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
        enum MHD_Result rc;

        MHD_add_response_header(r, "Content-Type", type);
        rc = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *data,
                              size_t *data_size, void **state)
{
        tg_metrics_t *m = cls;
        char buf[TG_READY_REASON_MAX + 8];
        int ready;

        if (strcmp(method, "GET") != 0)
                return reply(c, 405, "text/plain", "GET only\n", 0);
        if (strcmp(url, "/metrics") == 0) {
                char *text = tg_metrics_render(m);
                return text ? reply(c, 200,
                                    "text/plain; version=0.0.4; "
                                    "charset=utf-8",
                                    text, 1)
                            : reply(c, 500, "text/plain", "oom\n", 0);
        }
        if (strcmp(url, "/healthz") == 0)
                return reply(c, 200, "text/plain", "ok\n", 0);
        if (strcmp(url, "/readyz") == 0) {
                pthread_mutex_lock(&m->lock);
                ready = m->ready;
                snprintf(buf, sizeof(buf), "%s\n",
                         ready ? "ready" : m->not_ready);
                pthread_mutex_unlock(&m->lock);
                return reply(c, ready ? 200 : 503, "text/plain", buf, 0);
        }
        return reply(c, 404, "text/plain", "not found\n", 0);
}

tg_metrics_t *tg_metrics_new(int port, const char *const *label_keys,
                             int n_labels, char *errstr, size_t size)
{
        tg_metrics_t *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        pthread_mutex_init(&m->lock, NULL);
        if (n_labels > TG_LABELS_MAX - 2)
                n_labels = TG_LABELS_MAX - 2;
        for (int k = 0; k < n_labels; k++)
                snprintf(m->label_keys[k], sizeof(m->label_keys[k]), "%s",
                         label_keys[k]);
        m->n_labels = n_labels + 2;
        snprintf(m->not_ready, sizeof(m->not_ready), "starting");
        if (port <= 0)
                return m;
        m->httpd = MHD_start_daemon(
            MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
            NULL, NULL, handle, m, MHD_OPTION_CONNECTION_LIMIT, 64U,
            MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
        if (!m->httpd) {
                snprintf(errstr, size, "metrics: cannot listen on port %d",
                         port);
                tg_metrics_destroy(m);
                return NULL;
        }
        return m;
}

void tg_metrics_destroy(tg_metrics_t *m)
{
        if (!m)
                return;
        if (m->httpd)
                MHD_stop_daemon(m->httpd);
        pthread_mutex_destroy(&m->lock);
        free(m);
}
