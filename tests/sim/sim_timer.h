/*
 * Delayed answers without a thread each: a handler suspends its MHD
 * connection and parks it here with a due time; one timer thread keeps a
 * min-heap of due times and resumes each connection when its time comes.
 * Thousands of pending delays cost one heap entry each.
 */
#ifndef SIM_TIMER_H
#define SIM_TIMER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Bounded so a runaway client cannot grow the heap without limit; MHD's
 * connection limit is far below it anyway. */
#define SIM_TIMER_MAX_PENDING (1u << 20)

typedef void (*sim_timer_fire_cb)(void *item);

typedef struct sim_timer_entry {
        uint64_t due_ns;
        void *item;
} sim_timer_entry_t;

typedef struct sim_timer {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        sim_timer_entry_t *heap;
        size_t n;
        size_t cap;
        int stopping;
        int running;
        sim_timer_fire_cb fire;
} sim_timer_t;

int sim_timer_start(sim_timer_t *t, sim_timer_fire_cb fire, char *errstr,
                    size_t errstr_size);
/* Returns -1 when the entry cannot be stored (caller fires it itself). */
int sim_timer_add(sim_timer_t *t, uint64_t due_ns, void *item);
size_t sim_timer_pending(sim_timer_t *t);
/* Fires every pending entry now and joins the thread; later adds fail,
 * so callers answer at once. */
void sim_timer_stop(sim_timer_t *t);
/* Frees the timer once nothing can call sim_timer_add() any more. */
void sim_timer_destroy(sim_timer_t *t);

#endif
