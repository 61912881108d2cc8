#include "sim_timer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_clock.h"

static void heap_swap(sim_timer_entry_t *h, size_t a, size_t b)
{
        sim_timer_entry_t tmp = h[a];

        h[a] = h[b];
        h[b] = tmp;
}

static void heap_push(sim_timer_t *t, sim_timer_entry_t e)
{
        size_t i = t->n++;

        t->heap[i] = e;
        while (i > 0 && t->heap[(i - 1) / 2].due_ns > t->heap[i].due_ns) {
                heap_swap(t->heap, i, (i - 1) / 2);
                i = (i - 1) / 2;
        }
}

static sim_timer_entry_t heap_pop(sim_timer_t *t)
{
        sim_timer_entry_t top = t->heap[0];
        size_t i = 0;

        t->heap[0] = t->heap[--t->n];
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;

                if (l < t->n && t->heap[l].due_ns < t->heap[m].due_ns)
                        m = l;
                if (r < t->n && t->heap[r].due_ns < t->heap[m].due_ns)
                        m = r;
                if (m == i)
                        break;
                heap_swap(t->heap, i, m);
                i = m;
        }
        return top;
}

static void wait_until(sim_timer_t *t, uint64_t due_ns)
{
        struct timespec ts = {.tv_sec = (time_t)(due_ns / 1000000000ULL),
                              .tv_nsec = (long)(due_ns % 1000000000ULL)};

        pthread_cond_timedwait(&t->cond, &t->lock, &ts);
}

static void *timer_main(void *arg)
{
        sim_timer_t *t = arg;

        pthread_mutex_lock(&t->lock);
        for (;;) {
                if (t->n == 0) {
                        if (t->stopping)
                                break;
                        pthread_cond_wait(&t->cond, &t->lock);
                        continue;
                }
                if (!t->stopping && t->heap[0].due_ns > sim_now_ns()) {
                        wait_until(t, t->heap[0].due_ns);
                        continue;
                }
                sim_timer_entry_t e = heap_pop(t);

                /* Resume outside the lock: MHD takes its own locks. */
                pthread_mutex_unlock(&t->lock);
                t->fire(e.item);
                pthread_mutex_lock(&t->lock);
        }
        pthread_mutex_unlock(&t->lock);
        return NULL;
}

int sim_timer_start(sim_timer_t *t, sim_timer_fire_cb fire, char *errstr,
                    size_t errstr_size)
{
        pthread_condattr_t attr;
        int rc;

        memset(t, 0, sizeof(*t));
        t->fire = fire;
        pthread_mutex_init(&t->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&t->cond, &attr);
        pthread_condattr_destroy(&attr);
        rc = pthread_create(&t->thread, NULL, timer_main, t);
        if (rc) {
                snprintf(errstr, errstr_size, "timer thread: %s", strerror(rc));
                return -1;
        }
        t->running = 1;
        return 0;
}

static int grow(sim_timer_t *t)
{
        size_t cap = t->cap ? t->cap * 2 : 1024;
        sim_timer_entry_t *h;

        if (cap > SIM_TIMER_MAX_PENDING)
                return -1;
        h = realloc(t->heap, cap * sizeof(*h));
        if (!h)
                return -1;
        t->heap = h;
        t->cap = cap;
        return 0;
}

int sim_timer_add(sim_timer_t *t, uint64_t due_ns, void *item)
{
        int rc = 0;

        pthread_mutex_lock(&t->lock);
        if (t->stopping || (t->n == t->cap && grow(t))) {
                rc = -1;
        } else {
                heap_push(t, (sim_timer_entry_t){due_ns, item});
                /* Only a new earliest deadline changes the thread's wait. */
                if (t->heap[0].item == item)
                        pthread_cond_signal(&t->cond);
        }
        pthread_mutex_unlock(&t->lock);
        return rc;
}

size_t sim_timer_pending(sim_timer_t *t)
{
        size_t n;

        pthread_mutex_lock(&t->lock);
        n = t->n;
        pthread_mutex_unlock(&t->lock);
        return n;
}

void sim_timer_stop(sim_timer_t *t)
{
        if (!t->running)
                return;
        pthread_mutex_lock(&t->lock);
        t->stopping = 1;
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
        t->running = 0;
}

void sim_timer_destroy(sim_timer_t *t)
{
        sim_timer_stop(t);
        free(t->heap);
        t->heap = NULL;
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
}
