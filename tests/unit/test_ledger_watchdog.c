/*
 * The ledger's Redis watchdog against a fake Redis (a thread speaking just
 * enough RESP): a Redis that answers slowly behind thousands of pipelined
 * calls is alive and the link stays; a loop too busy to read replies is
 * not Redis's fault; a Redis that stops answering is dropped, its calls
 * fail closed, and the ledger comes back when it answers again.
 */
#include "ledger.h"
#include "ledger_int.h"
#include "tg_test.h"
#include "tgtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_MS 300
#define MANY       2000

/* ---- fake Redis --------------------------------------------------------- */

typedef struct fake {
        int lfd;
        int port;
        atomic_int delay_us; /* before each reply */
        atomic_int paused;   /* read commands, answer none */
        atomic_int stop;
        atomic_int accepted;  /* connections */
        atomic_long received; /* commands */
        pthread_t th;
} fake_t;

/* Length of the first whole RESP command in buf, 0 when incomplete. */
static size_t resp_command_len(const char *buf, size_t n)
{
        const char *p = buf, *end = buf + n, *nl;
        long argc, len;

        if (n < 4 || *p != '*' || !(nl = memchr(p, '\n', n)))
                return 0;
        argc = strtol(p + 1, NULL, 10);
        p = nl + 1;
        while (argc-- > 0) {
                if (p >= end || *p != '$' ||
                    !(nl = memchr(p, '\n', (size_t)(end - p))))
                        return 0;
                len = strtol(p + 1, NULL, 10);
                p = nl + 1;
                if (end - p < len + 2)
                        return 0;
                p += len + 2;
        }
        return (size_t)(p - buf);
}

/* Answers "+OK" to every command of one connection, until it closes. */
static void fake_serve(fake_t *f, int fd)
{
        static char buf[1 << 20];
        size_t have = 0, used;
        ssize_t r;

        while (!f->stop) {
                r = read(fd, buf + have, sizeof(buf) - have);
                if (r <= 0)
                        return;
                have += (size_t)r;
                while ((used = resp_command_len(buf, have)) > 0) {
                        f->received++;
                        memmove(buf, buf + used, have - used);
                        have -= used;
                        if (f->paused)
                                continue;
                        if (f->delay_us)
                                usleep((useconds_t)f->delay_us);
                        if (write(fd, "+OK\r\n", 5) != 5)
                                return;
                }
        }
}

static void *fake_main(void *arg)
{
        fake_t *f = arg;
        int fd;

        while (!f->stop && (fd = accept(f->lfd, NULL, NULL)) >= 0) {
                f->accepted++;
                fake_serve(f, fd);
                close(fd);
        }
        return NULL;
}

static int fake_start(fake_t *f)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t alen = sizeof(a);

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) ||
            listen(f->lfd, 4) ||
            getsockname(f->lfd, (struct sockaddr *)&a, &alen))
                return -1;
        f->port = ntohs(a.sin_port);
        return pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(fake_t *f)
{
        f->stop = 1;
        shutdown(f->lfd, SHUT_RDWR);
        close(f->lfd);
        pthread_join(f->th, NULL);
}

/* ---- the ledger under test --------------------------------------------- */

typedef struct state {
        int up;
        int downs; /* up -> down changes */
        long ok, failed;
} state_t;

static void on_state(tg_ledger_t *l, int up, void *opaque)
{
        state_t *s = opaque;

        s->downs += s->up && !up;
        s->up = up;
}

static void on_reply(tg_ledger_t *l, struct redisReply *reply, void *opaque)
{
        state_t *s = opaque;

        if (reply)
                s->ok++;
        else
                s->failed++;
}

/* Runs the loop until cond holds or ms pass. */
#define RUN_UNTIL(loop, cond, ms)                                              \
        do {                                                                   \
                int64_t until_ = tg_mono_ms() + (ms);                          \
                while (!(cond) && tg_mono_ms() < until_)                       \
                        uv_run((loop), UV_RUN_ONCE);                           \
        } while (0)

static int ping(tg_ledger_t *l, state_t *s)
{
        const char *argv[] = {"PING"};
        size_t len[] = {4};

        return tg_ledger_cmd(l, 1, argv, len, on_reply, s);
}

/* A timer so that UV_RUN_ONCE never blocks for long. */
static void tick(uv_timer_t *t)
{
}

static void test_slow_but_alive(uv_loop_t *loop, tg_ledger_t *l, fake_t *f,
                                state_t *s)
{
        int64_t t0 = tg_mono_ms();
        int i, queued = 0;

        /* MANY calls at 1 ms each: the last waits ~7 timeouts, but a reply
         * comes every millisecond. */
        f->delay_us = 1000;
        s->ok = s->failed = 0;
        for (i = 0; i < MANY; i++)
                queued += ping(l, s) == 0;
        CHECK_INT(queued, MANY);
        RUN_UNTIL(loop, s->ok + s->failed == MANY, 60000);
        CHECK(s->ok + s->failed == MANY);
        printf("slow: %d calls answered in %lld ms, timeout %d ms\n", MANY,
               (long long)(tg_mono_ms() - t0), TIMEOUT_MS);
        CHECK(tg_mono_ms() - t0 > 3 * TIMEOUT_MS); /* the case was made */
        CHECK_INT(s->ok, MANY);
        CHECK_INT(s->downs, 0);
        CHECK_INT(f->accepted, 1);
        f->delay_us = 0;
}

/* Replies sit unread in the socket while the loop is busy elsewhere (the
 * watchdog timer runs before libuv polls): still no reconnect. */
static void test_busy_loop(uv_loop_t *loop, tg_ledger_t *l, fake_t *f,
                           state_t *s)
{
        long before = f->received;
        int i;

        f->delay_us = 2000; /* the replies come during the "busy" sleep */
        s->ok = s->failed = 0;
        for (i = 0; i < 100; i++)
                ping(l, s);
        RUN_UNTIL(loop, f->received == before + 100, 5000);
        CHECK(f->received == before + 100);
        usleep(3 * TIMEOUT_MS * 1000); /* "busy" */
        RUN_UNTIL(loop, s->ok + s->failed == 100, 5000);
        CHECK(s->ok + s->failed == 100);
        CHECK_INT(s->ok, 100);
        CHECK_INT(s->downs, 0);
        CHECK_INT(f->accepted, 1);
        f->delay_us = 0;
}

/* No reply at all: the link is dropped within about a timeout, the calls
 * fail (NULL reply), and the ledger is up again once Redis answers. */
static void test_paused(uv_loop_t *loop, tg_ledger_t *l, fake_t *f, state_t *s)
{
        int64_t t0;
        int i;

        s->ok = s->failed = 0;
        f->paused = 1;
        t0 = tg_mono_ms();
        for (i = 0; i < 50; i++)
                ping(l, s);
        RUN_UNTIL(loop, s->failed == 50, 10 * TIMEOUT_MS);
        CHECK(s->failed == 50);
        printf("paused: calls failed after %lld ms\n",
               (long long)(tg_mono_ms() - t0));
        CHECK_INT(s->ok, 0);
        CHECK_INT(s->downs, 1);
        CHECK(!tg_ledger_up(l));
        CHECK(ping(l, s) < 0); /* fail closed while down */
        f->paused = 0;
        RUN_UNTIL(loop, tg_ledger_up(l), 10000);
        CHECK(tg_ledger_up(l));
        CHECK(f->accepted >= 2);
        s->ok = 0;
        CHECK_INT(ping(l, s), 0);
        RUN_UNTIL(loop, s->ok == 1, 5000);
        CHECK(s->ok == 1);
}

int main(void)
{
        uv_loop_t loop;
        uv_timer_t t;
        fake_t f = {0};
        state_t s = {0};
        char url[64], err[256];
        tg_ledger_t *l;

        uv_loop_init(&loop);
        uv_timer_init(&loop, &t);
        uv_timer_start(&t, tick, 20, 20);
        CHECK_INT(fake_start(&f), 0);
        snprintf(url, sizeof(url), "redis://127.0.0.1:%d", f.port);
        l = tg_ledger_new(&loop, url, on_state, &s, err, sizeof(err));
        CHECK(l != NULL);
        if (!l)
                return tg_test_done("test_ledger_watchdog");
        l->timeout_ms = TIMEOUT_MS;
        RUN_UNTIL(&loop, s.up, 5000);
        CHECK(s.up);

        test_slow_but_alive(&loop, l, &f, &s);
        test_busy_loop(&loop, l, &f, &s);
        test_paused(&loop, l, &f, &s);

        tg_ledger_destroy(l);
        uv_close((uv_handle_t *)&t, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        fake_stop(&f);
        return tg_test_done("test_ledger_watchdog");
}
