/* The offset tracker: out-of-order completion never commits past an
 * unfinished offset. */
#include <stdlib.h>

#include "offsets.h"
#include "tg_test.h"

static void test_in_order(void)
{
        tg_offsets_part_t *p = tg_offsets_part_new(3);
        int64_t c = -7;

        CHECK_INT(tg_offsets_partition(p), 3);
        CHECK_INT(tg_offsets_committable(p), -1);
        for (int64_t o = 10; o < 13; o++)
                CHECK_INT(tg_offsets_track(p, o), 0);
        CHECK_INT(tg_offsets_done(p, 10, &c), 1);
        CHECK_INT(c, 11);
        CHECK_INT(tg_offsets_done(p, 11, &c), 1);
        CHECK_INT(c, 12);
        CHECK_INT(tg_offsets_pending(p), 1);
        CHECK_INT(tg_offsets_done(p, 11, &c), -1); /* twice */
        CHECK_INT(tg_offsets_done(p, 99, &c), -1); /* unknown */
        CHECK_INT(tg_offsets_track(p, 5), -1);     /* backwards */
        tg_offsets_part_destroy(p);
}

static void test_out_of_order(void)
{
        tg_offsets_part_t *p = tg_offsets_part_new(0);
        int64_t c = -7;

        for (int64_t o = 0; o < 5; o++)
                tg_offsets_track(p, o * 2); /* gaps: compacted topics */
        CHECK_INT(tg_offsets_done(p, 8, &c), 0);
        CHECK_INT(tg_offsets_done(p, 4, &c), 0);
        CHECK_INT(tg_offsets_committable(p), -1);
        CHECK_INT(tg_offsets_done(p, 0, &c), 1);
        CHECK_INT(c, 1);
        CHECK_INT(tg_offsets_done(p, 2, &c), 1);
        CHECK_INT(c, 5); /* 0,2,4 done; 6 is not */
        CHECK_INT(tg_offsets_done(p, 6, &c), 1);
        CHECK_INT(c, 9);
        CHECK_INT(tg_offsets_pending(p), 0);
        tg_offsets_part_destroy(p);
}

/* Random completion order over many offsets, with the ring wrapping and
 * growing: the commit never passes the lowest unfinished offset. */
static void test_random(void)
{
        enum { N = 5000 };
        tg_offsets_part_t *p = tg_offsets_part_new(1);
        int64_t order[N], c;
        int done[N] = {0};
        int violations = 0, started = 0;

        srand(42);
        for (int i = 0; i < N; i++)
                order[i] = i;
        for (int i = N - 1; i > 0; i--) {
                int j = rand() % (i + 1);
                int64_t t = order[i];
                order[i] = order[j];
                order[j] = t;
        }
        for (int i = 0; i < N; i++) {
                /* start in order, up to 300 ahead of completion */
                while (started < N && started < i + 300)
                        tg_offsets_track(p, started++);
                int64_t o = order[i];
                if (o >= started) {
                        while (started <= o)
                                tg_offsets_track(p, started++);
                }
                done[o] = 1;
                if (tg_offsets_done(p, o, &c) == 1) {
                        for (int64_t k = 0; k < c; k++)
                                if (!done[k])
                                        violations++;
                }
        }
        CHECK_INT(violations, 0);
        CHECK_INT(tg_offsets_committable(p), N);
        tg_offsets_part_destroy(p);
}

int main(void)
{
        test_in_order();
        test_out_of_order();
        test_random();
        return tg_test_done("test_offsets");
}
