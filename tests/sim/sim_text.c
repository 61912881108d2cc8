#include "sim_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET   0xcbf29ce484222325ULL
#define FNV_PRIME    0x100000001b3ULL
#define SIM_WORD_MAX 17 /* longest word, the hash, plus a space */

static const char *const sim_filler[32] = {
    "alpha",  "budget",  "cedar",   "delta",  "ember",  "fjord",  "garnet",
    "harbor", "indigo",  "juniper", "kelp",   "lumen",  "meadow", "nimbus",
    "onyx",   "prairie", "quartz",  "river",  "sierra", "tundra", "umber",
    "velvet", "willow",  "xenon",   "yonder", "zephyr", "amber",  "basalt",
    "cobalt", "dune",    "echo",    "flint"};

void sim_text_in_init(sim_text_in_t *in)
{
        in->hash = FNV_OFFSET;
        in->input_tokens = 0;
}

void sim_text_add(sim_text_in_t *in, const char *text, size_t len)
{
        for (size_t i = 0; i < len; i++)
                in->hash = (in->hash ^ (unsigned char)text[i]) * FNV_PRIME;
        /* A separator so ["ab"] and ["a","b"] hash differently. */
        in->hash = (in->hash ^ 0x1f) * FNV_PRIME;
        in->input_tokens += (len + 3) / 4;
}

void sim_text_message(sim_text_in_t *in)
{
        in->input_tokens += SIM_TOKENS_PER_MESSAGE;
}

static void word_at(uint64_t hash, uint64_t i, char buf[SIM_WORD_MAX])
{
        static const char *const head[3] = {"Simulated", "reply", "to:"};
        uint64_t x;

        if (i < 3) {
                snprintf(buf, SIM_WORD_MAX, "%s", head[i]);
                return;
        }
        if (i == 3) {
                snprintf(buf, SIM_WORD_MAX, "%016llx",
                         (unsigned long long)hash);
                return;
        }
        x = (hash + i * 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
        snprintf(buf, SIM_WORD_MAX, "%s", sim_filler[(x >> 59) & 31]);
}

/* Where the first stop sequence starts in text (searching from `from`),
 * or -1. */
static long find_stop(const char *text, size_t from, const char *const *stops,
                      size_t n_stops)
{
        long best = -1;

        for (size_t i = 0; i < n_stops; i++) {
                const char *hit;

                if (!*stops[i] || !(hit = strstr(text + from, stops[i])))
                        continue;
                if (best < 0 || hit - text < best)
                        best = hit - text;
        }
        return best;
}

static uint64_t count_words(const char *text)
{
        uint64_t n = 0;

        for (const char *p = text; *p; p++)
                if (*p != ' ' && (p == text || p[-1] == ' '))
                        n++;
        return n;
}

static size_t longest(const char *const *stops, size_t n_stops)
{
        size_t m = 0;

        for (size_t i = 0; i < n_stops; i++)
                if (strlen(stops[i]) > m)
                        m = strlen(stops[i]);
        return m;
}

int sim_text_generate(const sim_text_in_t *in, uint64_t natural,
                      uint64_t max_tokens, const char *const *stops,
                      size_t n_stops, sim_text_out_t *out)
{
        uint64_t n =
            (max_tokens && max_tokens < natural) ? max_tokens : natural;
        size_t len = 0, window = longest(stops, n_stops);
        char word[SIM_WORD_MAX];

        out->stop = n < natural ? SIM_STOP_MAX : SIM_STOP_END;
        if (!(out->text = malloc(n * SIM_WORD_MAX + 1)))
                return -1;
        out->text[0] = '\0';
        for (uint64_t i = 0; i < n; i++) {
                size_t from = len > window ? len - window : 0;
                long cut;

                word_at(in->hash, i, word);
                len += (size_t)sprintf(out->text + len, "%s%s", i ? " " : "",
                                       word);
                /* Only the tail that the new word touched can hold a
                 * new match, so long replies stay linear. */
                if ((cut = find_stop(out->text, from, stops, n_stops)) >= 0) {
                        while (cut > 0 && out->text[cut - 1] == ' ')
                                cut--;
                        out->text[cut] = '\0';
                        out->stop = SIM_STOP_SEQUENCE;
                        break;
                }
        }
        out->tokens = count_words(out->text);
        return 0;
}
