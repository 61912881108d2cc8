/*
 * Token bucket with a rate learned from throttling (see ratelimit.h).
 */
#include "ratelimit.h"

static double clamp(const tg_rate_t *r, double v)
{
        if (v < r->floor)
                return r->floor;
        return v > r->max ? r->max : v;
}

static double capacity(const tg_rate_t *r)
{
        double c = r->rate / 10.0;

        return c < 1.0 ? 1.0 : c;
}

void tg_rate_init(tg_rate_t *r, double floor, double max)
{
        *r = (tg_rate_t){0};
        r->floor = floor < 0.01 ? 0.01 : floor;
        r->max = max < r->floor ? r->floor : max;
        r->rate = r->max;
}

/* Moves the two-bucket window to now; a clock that went backwards restarts
 * it rather than freezing it. */
static void roll(tg_rate_t *r, int64_t now_ms)
{
        int64_t d;

        if (!r->win_on || now_ms < r->win_ms) {
                r->win_on = 1;
                r->first_window = 1;
                r->win_ms = now_ms;
                r->win_cur = r->win_prev = 0;
                return;
        }
        d = now_ms - r->win_ms;
        if (d < TG_RATE_WINDOW_MS)
                return;
        r->first_window = 0;
        r->win_prev = d < 2 * TG_RATE_WINDOW_MS ? r->win_cur : 0;
        r->win_cur = 0;
        r->win_ms = now_ms - d % TG_RATE_WINDOW_MS;
}

static int64_t young_ms(int64_t ms)
{
        return ms < TG_RATE_YOUNG_MS ? TG_RATE_YOUNG_MS : ms;
}

double tg_rate_accepted(tg_rate_t *r, int64_t now_ms)
{
        double left, v;

        roll(r, now_ms);
        /* The previous window weighs by how much of it the sliding window
         * still covers. */
        left = 1.0 - (double)(now_ms - r->win_ms) / TG_RATE_WINDOW_MS;
        v = r->win_prev * left + r->win_cur;
        if (v < 0)
                return 0;
        /* The first window ever: what was accepted so far, over the time
         * it took (at least TG_RATE_YOUNG_MS, not to read a few calls of
         * the first milliseconds as a huge rate). */
        if (r->first_window)
                return v * 1000.0 / (double)young_ms(now_ms - r->win_ms);
        return v * 1000.0 / TG_RATE_WINDOW_MS;
}

static void refill(tg_rate_t *r, int64_t now_ms)
{
        if (now_ms > r->fill_ms)
                r->tokens += r->rate * (double)(now_ms - r->fill_ms) / 1000.0;
        if (r->tokens > capacity(r))
                r->tokens = capacity(r);
        r->fill_ms = now_ms;
}

int tg_rate_take(tg_rate_t *r, int64_t now_ms)
{
        if (r->on) {
                refill(r, now_ms);
                if (r->tokens < 1.0)
                        return 0;
                r->tokens -= 1.0;
        }
        roll(r, now_ms);
        r->win_cur += 1.0;
        return 1;
}

int64_t tg_rate_wait_ms(tg_rate_t *r, int64_t now_ms)
{
        double ms;

        if (!r->on)
                return 0;
        refill(r, now_ms);
        if (r->tokens >= 1.0)
                return 0;
        ms = (1.0 - r->tokens) * 1000.0 / r->rate;
        return ms < 1.0 ? 1 : (int64_t)ms + 1;
}

int tg_rate_on_throttle(tg_rate_t *r, int64_t sent_ms, int64_t now_ms)
{
        double accepted, next;

        roll(r, now_ms);
        r->win_cur -= 1.0; /* it was counted as sent */
        accepted = tg_rate_accepted(r, now_ms);
        /* Sent before the last cut: it saw the old rate. (A clock that went
         * backwards must not freeze the rate high.) */
        if (r->on && r->cut_ms <= now_ms &&
            (sent_ms < r->cut_ms || now_ms - r->cut_ms < TG_RATE_CUT_MS))
                return 0;
        /* Each cut lowers the rate, even when the window still remembers
         * a burst the quota's own bucket let through: an overload is
         * left in a few cuts, not after a window. */
        if (r->on && accepted > r->rate)
                accepted = r->rate;
        next = clamp(r, accepted * TG_RATE_DECREASE);
        if (!r->on)
                r->fill_ms = now_ms;
        r->on = 1;
        r->rate = next;
        r->accepted = accepted > r->floor ? accepted : r->floor;
        if (r->accepted > r->peak)
                r->peak = r->accepted;
        r->tokens = 0;
        r->cut_ms = r->grow_ms = now_ms;
        r->cuts++;
        return 1;
}

void tg_rate_on_success(tg_rate_t *r, int64_t now_ms, int waiting)
{
        int64_t dt;
        double speed, quiet;

        if (!r->on || now_ms <= r->grow_ms)
                return;
        dt = now_ms - r->grow_ms;
        /* Idle, or just cut: move the clock, not the rate. */
        if (!waiting || now_ms - r->cut_ms < TG_RATE_WINDOW_MS) {
                r->grow_ms = now_ms;
                return;
        }
        if (dt > TG_RATE_WINDOW_MS)
                dt = TG_RATE_WINDOW_MS;
        speed = r->rate < r->accepted * TG_RATE_PROBE_FROM
                    ? r->accepted * TG_RATE_RECOVER
                    : r->accepted * TG_RATE_PROBE;
        /* The longer without a throttle, the faster it probes (as CUBIC):
         * a rate cut too low, or a share another worker left, is found
         * again in seconds, while right after a cut probing is slow. */
        quiet = (double)(now_ms - r->cut_ms) / 1000.0;
        if (quiet > TG_RATE_ACCEL_MAX_S)
                quiet = TG_RATE_ACCEL_MAX_S;
        if (speed < r->rate * TG_RATE_ACCEL * quiet)
                speed = r->rate * TG_RATE_ACCEL * quiet;
        /* And by the same amount whatever its share: the gates sharing a
         * quota all grow alike while each cut takes more from the larger,
         * so their shares converge (AIMD) and none is left far behind
         * with its backlog when the others are done. */
        if (speed < r->peak * TG_RATE_SHARE * quiet)
                speed = r->peak * TG_RATE_SHARE * quiet;
        /* A gate cut to the floor (it got nothing accepted) still climbs:
         * no starvation. */
        if (speed < r->floor * TG_RATE_MIN_SPEED)
                speed = r->floor * TG_RATE_MIN_SPEED;
        refill(r, now_ms); /* tokens earned so far at the old rate */
        r->rate = clamp(r, r->rate + speed * (double)dt / 1000.0);
        r->grow_ms = now_ms;
}

double tg_rate_limit(const tg_rate_t *r)
{
        return r->on ? r->rate : 0;
}
