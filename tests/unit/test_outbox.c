/*
 * worker/outbox.c alone, with fake ops (no broker, no jobs): ordering of
 * outputs and offset release in both modes, partial revocation, a refused
 * message, a partition read again.
 */
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "tg_test.h"

typedef struct item {
        tg_outbox_entry_t e;
        int dropped;
} item_t;

static char log_[1024]; /* "e0:10 r0:11 d0:10 x0 " */
static int64_t fail_offset = -1;

static void say(const char *what, int32_t p, int64_t o)
{
        char buf[48];

        if (o < 0)
                snprintf(buf, sizeof(buf), "%s%d ", what, (int)p);
        else
                snprintf(buf, sizeof(buf), "%s%d:%lld ", what, (int)p,
                         (long long)o);
        strncat(log_, buf, sizeof(log_) - strlen(log_) - 1);
}

static int emit(tg_outbox_entry_t *e, void *op)
{
        say("e", e->partition, e->offset);
        return e->offset == fail_offset ? -1 : 0;
}

static void drop(tg_outbox_entry_t *e, void *op)
{
        ((item_t *)e)->dropped++;
}

static void release(int32_t p, int64_t o, void *op)
{
        say("r", p, o);
}

static void refused(int32_t p, const char *why, void *op)
{
        say("x", p, -1);
}

static const tg_outbox_ops_t OPS = {emit, drop, release, refused};

static void reset(void)
{
        log_[0] = '\0';
        fail_offset = -1;
}

/* Transactions: held until all before them are ready, produced in offset
 * order, the offset released after their messages. */
static void test_txn_order(void)
{
        tg_outbox_t *o = tg_outbox_new(1, &OPS, NULL);
        item_t a = {0}, b = {0}, c = {0};

        reset();
        tg_outbox_assign(o, 0);
        tg_outbox_track(o, &a.e, 0, 10);
        tg_outbox_track(o, &b.e, 0, 11);
        tg_outbox_track(o, &c.e, 0, 12);
        tg_outbox_ready(o, &c.e);
        CHECK_STR(log_, "");
        CHECK_INT(tg_outbox_held(o), 1);
        tg_outbox_ready(o, &a.e);
        CHECK_STR(log_, "e0:10 r0:11 ");
        CHECK_INT(a.dropped, 1);
        tg_outbox_ready(o, &b.e);
        CHECK_STR(log_, "e0:10 r0:11 e0:11 e0:12 r0:13 ");
        CHECK_INT(b.dropped + c.dropped, 2);
        CHECK_INT(tg_outbox_held(o), 0);
        tg_outbox_destroy(o);
}

/* One partition of two revoked: what it held goes, its late entries are
 * dropped unseen; the other keeps going. */
static void test_txn_partial_revoke(void)
{
        tg_outbox_t *o = tg_outbox_new(1, &OPS, NULL);
        item_t a = {0}, b = {0}, c = {0}, d = {0};

        reset();
        tg_outbox_assign(o, 0);
        tg_outbox_assign(o, 1);
        tg_outbox_track(o, &a.e, 0, 5);
        tg_outbox_track(o, &b.e, 0, 6);
        tg_outbox_track(o, &c.e, 1, 7);
        tg_outbox_ready(o, &b.e); /* held behind 5 */
        tg_outbox_revoke(o, 0);
        CHECK_INT(b.dropped, 1);
        CHECK(!tg_outbox_owns(o, 0) && tg_outbox_owns(o, 1));
        tg_outbox_ready(o, &a.e);
        CHECK_INT(a.dropped, 1);
        CHECK_STR(log_, "");
        tg_outbox_ready(o, &c.e);
        tg_outbox_track(o, &d.e, 1, 8);
        tg_outbox_ready(o, &d.e);
        CHECK_STR(log_, "e1:7 r1:8 e1:8 r1:9 ");
        tg_outbox_destroy(o);
}

/* A refused message: nothing released from it on, the rest dropped, and
 * entries of before (a new generation) dropped when they come. */
static void test_txn_refused(void)
{
        tg_outbox_t *o = tg_outbox_new(1, &OPS, NULL);
        item_t it[4];

        memset(it, 0, sizeof(it));
        reset();
        fail_offset = 21;
        tg_outbox_assign(o, 2);
        for (int i = 0; i < 4; i++)
                tg_outbox_track(o, &it[i].e, 2, 20 + i);
        tg_outbox_ready(o, &it[1].e);
        tg_outbox_ready(o, &it[2].e);
        tg_outbox_ready(o, &it[0].e);
        CHECK_STR(log_, "e2:20 e2:21 r2:21 x2 ");
        tg_outbox_ready(o, &it[3].e);
        CHECK_STR(log_, "e2:20 e2:21 r2:21 x2 ");
        for (int i = 0; i < 4; i++)
                CHECK_INT(it[i].dropped, 1);
        tg_outbox_destroy(o);
}

/* Idempotent: produced at once in any order; the offset moves once
 * everything below was delivered. */
static void test_idempotent(void)
{
        tg_outbox_t *o = tg_outbox_new(0, &OPS, NULL);
        item_t a = {0}, b = {0}, c = {0};

        reset();
        tg_outbox_assign(o, 0);
        tg_outbox_track(o, &a.e, 0, 10);
        tg_outbox_track(o, &b.e, 0, 11);
        tg_outbox_ready(o, &b.e);
        tg_outbox_ready(o, &a.e);
        CHECK_STR(log_, "e0:11 e0:10 ");
        tg_outbox_delivered(o, &b.e);
        CHECK_STR(log_, "e0:11 e0:10 ");
        CHECK_INT(b.dropped, 1);
        tg_outbox_delivered(o, &a.e);
        CHECK_STR(log_, "e0:11 e0:10 r0:12 ");
        /* revoked meanwhile: delivered, dropped, nothing released */
        tg_outbox_track(o, &c.e, 0, 12);
        tg_outbox_ready(o, &c.e);
        tg_outbox_revoke(o, 0);
        tg_outbox_delivered(o, &c.e);
        CHECK_STR(log_, "e0:11 e0:10 r0:12 e0:12 ");
        CHECK_INT(c.dropped, 1);
        /* refused outright: reported, the offset not released */
        reset();
        fail_offset = 30;
        tg_outbox_assign(o, 0);
        tg_outbox_track(o, &a.e, 0, 30);
        CHECK_INT(tg_outbox_ready(o, &a.e), -1);
        CHECK_STR(log_, "e0:30 x0 ");
        tg_outbox_destroy(o);
}

/* Read again (after an abort): a fresh tracker from the committed offset;
 * the old entries are dropped, the new ones release from there. */
static void test_reassign(void)
{
        tg_outbox_t *o = tg_outbox_new(1, &OPS, NULL);
        item_t old = {0}, fresh = {0};

        reset();
        tg_outbox_assign(o, 3);
        tg_outbox_track(o, &old.e, 3, 40);
        tg_outbox_assign(o, 3);
        tg_outbox_track(o, &fresh.e, 3, 40);
        tg_outbox_ready(o, &old.e);
        CHECK_INT(old.dropped, 1);
        CHECK_STR(log_, "");
        tg_outbox_ready(o, &fresh.e);
        CHECK_STR(log_, "e3:40 r3:41 ");
        /* not ours at all: never tracked, dropped */
        tg_outbox_track(o, &old.e, 9, 1);
        tg_outbox_ready(o, &old.e);
        CHECK_INT(old.dropped, 2);
        tg_outbox_destroy(o);
}

int main(void)
{
        test_txn_order();
        test_txn_partial_revoke();
        test_txn_refused();
        test_idempotent();
        test_reassign();
        return tg_test_done("test_outbox");
}
