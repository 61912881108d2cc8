/*
 * curl's multi interface on the libuv loop (curl's multi-uv example, kept
 * small): curl tells us which sockets to watch and when to wake it; we tell
 * it what happened. Thousands of calls share one thread and a connection
 * cache.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "worker.h"

typedef struct sock_ctx {
        uv_poll_t poll;
        curl_socket_t fd;
        tg_worker_t *w;
} sock_ctx_t;

static void check_done(tg_worker_t *w)
{
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(w->multi, &left))) {
                char *priv = NULL;
                CURLcode rc = m->data.result;
                if (m->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
                curl_multi_remove_handle(w->multi, m->easy_handle);
                w->cbs.http_done(priv, rc);
        }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
        sock_ctx_t *s = h->data;
        int running, flags = 0;

        if (status < 0)
                flags = CURL_CSELECT_ERR;
        if (events & UV_READABLE)
                flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
                flags |= CURL_CSELECT_OUT;
        curl_multi_socket_action(s->w->multi, s->fd, flags, &running);
        check_done(s->w);
}

static void on_timeout(uv_timer_t *t)
{
        tg_worker_t *w = t->data;
        int running;

        curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done(w);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
        tg_worker_t *w = userp;

        if (timeout_ms < 0)
                uv_timer_stop(&w->curl_timer);
        else
                uv_timer_start(&w->curl_timer, on_timeout, (uint64_t)timeout_ms,
                               0);
        return 0;
}

static void free_sock(uv_handle_t *h)
{
        free(h->data);
}

static int socket_cb(CURL *e, curl_socket_t fd, int action, void *userp,
                     void *socketp)
{
        tg_worker_t *w = userp;
        sock_ctx_t *s = socketp;
        int ev = 0;

        if (action == CURL_POLL_REMOVE) {
                if (s) {
                        uv_poll_stop(&s->poll);
                        uv_close((uv_handle_t *)&s->poll, free_sock);
                        curl_multi_assign(w->multi, fd, NULL);
                }
                return 0;
        }
        if (!s) {
                s = calloc(1, sizeof(*s));
                if (!s)
                        return -1;
                s->fd = fd;
                s->w = w;
                uv_poll_init_socket(w->loop, &s->poll, fd);
                s->poll.data = s;
                curl_multi_assign(w->multi, fd, s);
        }
        if (action & CURL_POLL_IN)
                ev |= UV_READABLE;
        if (action & CURL_POLL_OUT)
                ev |= UV_WRITABLE;
        uv_poll_start(&s->poll, ev, on_poll);
        return 0;
}

int tg_http_start(tg_worker_t *w, char *errstr, size_t size)
{
        w->multi = curl_multi_init();
        if (!w->multi)
                return snprintf(errstr, size, "curl_multi_init failed"), -1;
        uv_timer_init(w->loop, &w->curl_timer);
        w->curl_timer.data = w;
        curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
        curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
        /* Keep a connection per concurrent call alive (HTTP/1.1), or
         * multiplex them over a few (HTTP/2 to AWS). */
        curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS,
                          (long)w->conf->max_inflight);
        curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
        return 0;
}

/* Handles are reset and kept rather than cleaned up and made anew: init
 * and cleanup were 4 % of the worker's CPU at latency 0 (perf, RESULTS.md
 * F10). A reset handle keeps no option of its last call (URL, headers,
 * body, callbacks); what it keeps are curl's caches (connections, DNS). */
CURL *tg_http_easy_get(tg_worker_t *w)
{
        if (w->n_easy_pool)
                return w->easy_pool[--w->n_easy_pool];
        return curl_easy_init();
}

void tg_http_easy_put(tg_worker_t *w, CURL *e)
{
        if (w->n_easy_pool < TG_EASY_POOL) {
                curl_easy_reset(e);
                w->easy_pool[w->n_easy_pool++] = e;
        } else {
                curl_easy_cleanup(e);
        }
}

void tg_http_stop(tg_worker_t *w)
{
        while (w->n_easy_pool)
                curl_easy_cleanup(w->easy_pool[--w->n_easy_pool]);
        if (!w->multi)
                return;
        uv_timer_stop(&w->curl_timer);
        uv_close((uv_handle_t *)&w->curl_timer, NULL);
        curl_multi_cleanup(w->multi);
        w->multi = NULL;
}
