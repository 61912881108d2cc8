/*
 * curl's multi interface on the libuv loop (curl's multi-uv example, kept
 * small): curl tells us which sockets to watch and when to wake it; we tell
 * it what happened. Thousands of calls share one thread and a connection
 * cache.
 *
 * A socket's uv_poll handle lives as long as the socket, not as long as a
 * call: curl reports every keep-alive connection going idle as
 * CURL_POLL_REMOVE, and a handle made anew for every call (init, epoll
 * registration, close) was 8-13 % of the worker's CPU at latency 0
 * (tests/bench/RESULTS.md, F11). curl opens and closes its sockets through
 * our callbacks, so we know when a descriptor really goes away: the handle
 * is closed (its epoll registration dropped) before the descriptor is, and
 * a new socket that gets the same number never finds a stale handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

/* Descriptors past this are not kept in the table (their handles go with
 * each CURL_POLL_REMOVE, as before); 64 Ki slots are 512 KiB at most. */
#define TG_HTTP_FD_MAX   65536
#define TG_HTTP_FD_FIRST 256 /* slots at first, doubled as needed */

typedef struct tg_http_sock {
        uv_poll_t poll;
        curl_socket_t fd;
        tg_worker_t *w;
        int polled; /* poll initialised (on curl's first interest) */
        int kept;   /* in w->http_socks: goes when curl closes the socket */
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

/* Closing a poll handle stops it first: the fd must still be open. */
static void drop_sock(sock_ctx_t *s)
{
        if (s->polled)
                uv_close((uv_handle_t *)&s->poll, free_sock);
        else
                free(s);
}

static sock_ctx_t *kept_sock(tg_worker_t *w, curl_socket_t fd)
{
        if (fd < 0 || (size_t)fd >= w->n_http_socks)
                return NULL;
        return w->http_socks[fd];
}

/* Room for fd in the table; 0 past the cap or out of memory. */
static int socks_fit(tg_worker_t *w, curl_socket_t fd)
{
        size_t n = w->n_http_socks ? w->n_http_socks : TG_HTTP_FD_FIRST;
        sock_ctx_t **a;

        if (fd < 0 || fd >= TG_HTTP_FD_MAX)
                return 0;
        if ((size_t)fd < w->n_http_socks)
                return 1;
        while (n <= (size_t)fd)
                n *= 2;
        a = realloc(w->http_socks, n * sizeof(*a));
        if (!a)
                return 0;
        memset(a + w->n_http_socks, 0, (n - w->n_http_socks) * sizeof(*a));
        w->http_socks = a;
        w->n_http_socks = n;
        return 1;
}

/* CURLOPT_OPENSOCKETFUNCTION: as curl's own, and the socket gets its slot
 * (without one it is handled per call, as before). */
static curl_socket_t open_sock(void *clientp, curlsocktype purpose,
                               struct curl_sockaddr *a)
{
        tg_worker_t *w = clientp;
        curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
        sock_ctx_t *s;

        (void)purpose;
        if (fd == CURL_SOCKET_BAD)
                return fd;
        tg_metrics_http_socket(w->metrics);
        /* A descriptor closed without our callback left its slot behind:
         * the number is a new socket now (not known to happen: curl closes
         * every socket it opened through close_sock; said, as it would
         * break the count of open connections). */
        s = kept_sock(w, fd);
        if (s) {
                tg_log(TG_LOG_WARN,
                       "http: descriptor %d was closed behind our back", fd);
                w->http_socks[fd] = NULL;
                drop_sock(s);
        }
        if (!socks_fit(w, fd) || !(s = calloc(1, sizeof(*s))))
                return fd;
        s->fd = fd;
        s->w = w;
        s->kept = 1;
        w->http_socks[fd] = s;
        return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION, for every socket open_sock made (the
 * connection keeps the callback of the handle that opened it, cache pruning
 * and curl_multi_cleanup included). curl has already said CURL_POLL_REMOVE
 * if it watched the socket, so the handle is stopped; it is closed here,
 * while the descriptor is still open: closing a poll handle removes its
 * descriptor number from epoll, and after close() that number may be
 * someone else's (the consumer's pipe, a Redis link). */
static int close_sock(void *clientp, curl_socket_t fd)
{
        tg_worker_t *w = clientp;
        sock_ctx_t *s = kept_sock(w, fd);

        tg_metrics_http_socket_closed(w->metrics);
        if (s) {
                w->http_socks[fd] = NULL;
                drop_sock(s);
        }
        return close(fd);
}

static int socket_cb(CURL *e, curl_socket_t fd, int action, void *userp,
                     void *socketp)
{
        tg_worker_t *w = userp;
        sock_ctx_t *s = socketp;
        int ev = 0;

        if (action == CURL_POLL_REMOVE) {
                if (s) {
                        curl_multi_assign(w->multi, fd, NULL);
                        if (s->kept)
                                uv_poll_stop(&s->poll);
                        else
                                drop_sock(s);
                }
                return 0;
        }
        if (!s && !(s = kept_sock(w, fd))) {
                /* not opened by open_sock (a resolver's socket, a slot
                 * that did not fit): lives until CURL_POLL_REMOVE */
                s = calloc(1, sizeof(*s));
                if (!s)
                        return -1;
                s->fd = fd;
                s->w = w;
        }
        if (!s->polled) {
                if (uv_poll_init_socket(w->loop, &s->poll, fd)) {
                        if (!s->kept)
                                free(s);
                        return -1;
                }
                s->poll.data = s;
                s->polled = 1;
                tg_metrics_http_poll(w->metrics);
        }
        curl_multi_assign(w->multi, fd, s);
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
        CURL *e =
            w->n_easy_pool ? w->easy_pool[--w->n_easy_pool] : curl_easy_init();

        /* Here, not once per handle: curl_easy_reset drops them. A
         * connection keeps the close callback of the handle that opened
         * it. */
        if (e) {
                curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_sock);
                curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, w);
                curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_sock);
                curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, w);
        }
        return e;
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
        curl_multi_cleanup(w->multi); /* closes the cached connections */
        w->multi = NULL;
        /* Slots left by sockets closed without our callback (none that we
         * know of): their descriptors are not ours to close any more. */
        for (size_t fd = 0; fd < w->n_http_socks; fd++)
                if (w->http_socks[fd])
                        drop_sock(w->http_socks[fd]);
        free(w->http_socks);
        w->http_socks = NULL;
        w->n_http_socks = 0;
}
