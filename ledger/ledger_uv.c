/*
 * hiredis on the libuv loop: the adapter of hiredis 0.14
 * (<hiredis/adapters/libuv.h>) with one change. libuv reports a socket error
 * (POLLERR: a connection reset while commands are pending, a refused
 * connect) as a negative status and stops the handle; that adapter returns
 * without telling hiredis, so the link hung for good and the ledger never
 * reconnected. Here an error is handed to hiredis as readable and writable:
 * its next read, write or connect check finds the error and tears the link
 * down through the usual callbacks.
 */
#include <hiredis/async.h>
#include <stdlib.h>
#include <uv.h>

#include "ledger_int.h"

typedef struct uv_events {
        redisAsyncContext *context;
        uv_poll_t handle;
        int events;
} uv_events_t;

static void on_poll(uv_poll_t *handle, int status, int events)
{
        uv_events_t *p = handle->data;

        if (status < 0)
                events = UV_READABLE | UV_WRITABLE;
        /* Write first: a pending connect is checked there. */
        if (p->context && (events & UV_WRITABLE))
                redisAsyncHandleWrite(p->context);
        if (p->context && (events & UV_READABLE))
                redisAsyncHandleRead(p->context);
}

static void set_events(uv_events_t *p, int events)
{
        p->events = events;
        if (events)
                uv_poll_start(&p->handle, events, on_poll);
        else
                uv_poll_stop(&p->handle);
}

static void add_read(void *privdata)
{
        uv_events_t *p = privdata;

        set_events(p, p->events | UV_READABLE);
}

static void del_read(void *privdata)
{
        uv_events_t *p = privdata;

        set_events(p, p->events & ~UV_READABLE);
}

static void add_write(void *privdata)
{
        uv_events_t *p = privdata;

        set_events(p, p->events | UV_WRITABLE);
}

static void del_write(void *privdata)
{
        uv_events_t *p = privdata;

        set_events(p, p->events & ~UV_WRITABLE);
}

static void on_close(uv_handle_t *handle)
{
        free(handle->data);
}

static void cleanup(void *privdata)
{
        uv_events_t *p = privdata;

        p->context = NULL; /* the context is being freed */
        uv_close((uv_handle_t *)&p->handle, on_close);
}

int tg_ledger_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
        uv_events_t *p;

        if (ac->ev.data)
                return -1;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -1;
        if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
                free(p);
                return -1;
        }
        p->handle.data = p;
        p->context = ac;
        ac->ev.addRead = add_read;
        ac->ev.delRead = del_read;
        ac->ev.addWrite = add_write;
        ac->ev.delWrite = del_write;
        ac->ev.cleanup = cleanup;
        ac->ev.data = p;
        return 0;
}
