/*
 * The spent values of a usage event: finish.lua stores the event as the
 * worker built it, with "#tg:spent:<i>#" (quoted) where budget i's spent
 * value goes, and the values beside it; the worker fills them in here, for
 * the first publication and every re-publication alike, so Redis does no
 * string work on the event and both publications are the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

#define SPENT_DIGITS_MAX 20 /* "-9223372036854775808" */

/* Length of the decimal integer at s (ends at ',' or NUL), 0 if not one. */
static size_t value_len(const char *s)
{
        size_t n = s[0] == '-';

        while (s[n] >= '0' && s[n] <= '9' && n <= SPENT_DIGITS_MAX)
                n++;
        if (n == (size_t)(s[0] == '-') || n > SPENT_DIGITS_MAX ||
            (s[n] != ',' && s[n] != '\0'))
                return 0;
        return n;
}

/* Replaces the first `marker` in *out by the n bytes at v. */
static int replace_first(char **out, const char *marker, const char *v,
                         size_t n)
{
        char *at = strstr(*out, marker), *next;
        size_t mlen = strlen(marker), len = strlen(*out);

        if (!at)
                return 0;
        if (!(next = malloc(len - mlen + n + 1)))
                return -1;
        memcpy(next, *out, (size_t)(at - *out));
        memcpy(next + (at - *out), v, n);
        memcpy(next + (at - *out) + n, at + mlen,
               len - (size_t)(at - *out) - mlen + 1);
        free(*out);
        *out = next;
        return 0;
}

char *tg_ledger_usage_fill(const char *usage, const char *spent)
{
        char marker[40], *out = strdup(usage);
        const char *v = spent ? spent : "";
        size_t n;

        for (int i = 1; out && *v && (n = value_len(v)); i++) {
                snprintf(marker, sizeof(marker), "\"#tg:spent:%d#\"", i);
                if (replace_first(&out, marker, v, n)) {
                        free(out);
                        return NULL;
                }
                v += n + (v[n] == ',');
        }
        return out;
}
