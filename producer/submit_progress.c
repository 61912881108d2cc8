/*
 * Progress on stderr: on a terminal one line redrawn in place (a bar, the
 * count, the rate, the ETA); otherwise a plain line now and then, which
 * reads well in CI logs and `2>file`.
 */
#include <string.h>
#include <unistd.h>

#include "submit.h"
#include "tgtime.h"

#define BAR 24

void tgs_progress_init(tgs_progress_t *p, const tgs_opts_t *o)
{
        memset(p, 0, sizeof(*p));
        p->enabled = !o->quiet;
        p->tty = isatty(STDERR_FILENO);
        if (o->progress_s > 0)
                p->interval_us = (int64_t)(o->progress_s * 1e6);
        else
                p->interval_us = p->tty ? 100000 : 5000000;
}

void tgs_progress_start(tgs_progress_t *p)
{
        p->t0_us = p->last_us = tg_mono_us();
}

static void fmt_eta(double secs, char *out, size_t size)
{
        long s = (long)(secs + 0.5);

        if (secs < 0 || secs > 360000)
                snprintf(out, size, "?");
        else if (s >= 3600)
                snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
                         s % 60);
        else
                snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

static void draw_tty(const char *what, int64_t done, double frac, double rate,
                     const char *eta)
{
        char bar[BAR + 1];
        int fill = frac < 0 ? 0 : (int)(frac * BAR + 0.5);

        for (int i = 0; i < BAR; i++)
                bar[i] = i < fill ? '#' : '.';
        bar[BAR] = '\0';
        if (frac < 0)
                fprintf(stderr, "\r\033[K%s %lld  %.0f/s", what,
                        (long long)done, rate);
        else
                fprintf(stderr, "\r\033[K[%s] %3.0f%%  %s %lld  %.0f/s  ETA %s",
                        bar, frac * 100, what, (long long)done, rate, eta);
}

void tgs_progress_show(tgs_progress_t *p, const char *what, int64_t done,
                       double frac, int force)
{
        int64_t now = tg_mono_us();
        double secs = (double)(now - p->t0_us) / 1e6, rate;
        char eta[32];

        if (!p->enabled || (!force && now - p->last_us < p->interval_us))
                return;
        p->last_us = now;
        rate = secs > 0 ? (double)done / secs : 0;
        fmt_eta(frac > 0 ? secs * (1 - frac) / frac : -1, eta, sizeof(eta));
        if (p->tty) {
                draw_tty(what, done, frac, rate, eta);
                p->drawn = 1;
        } else if (frac < 0) {
                fprintf(stderr, "progress: %s %lld (%.0f/s)\n", what,
                        (long long)done, rate);
        } else {
                fprintf(stderr, "progress: %s %lld (%.0f/s), %.0f%%, ETA %s\n",
                        what, (long long)done, rate, frac * 100, eta);
        }
        fflush(stderr);
}

void tgs_progress_clear(tgs_progress_t *p)
{
        if (p->drawn)
                fputs("\r\033[K", stderr);
        p->drawn = 0;
}
