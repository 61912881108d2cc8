/*
 * Deterministic token accounting and replies.
 *
 * Input tokens: every text (system blocks, message text blocks, an
 * InvokeModel prompt) costs ceil(bytes / 4) tokens, and every message
 * costs 3 more (system blocks cost nothing extra):
 *
 *     inputTokens = sum_text ceil(bytes(text) / 4) + 3 * messages
 *
 * Since ceil(b / 4) <= b, this never exceeds the UTF-8 byte count of all
 * text plus 3 per message: the bound tollgate reserves before a call, so
 * a reservation is always enough against the simulator.
 *
 * Output: one token is one word of the reply. The reply reads
 * "Simulated reply to: <16 hex digits of the input hash> w w w ...", the
 * filler words chosen from the hash, cut to min(maxTokens, --output-tokens)
 * words or before the first stop sequence.
 */
#ifndef SIM_TEXT_H
#define SIM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define SIM_TOKENS_PER_MESSAGE 3

typedef enum sim_stop {
        SIM_STOP_END,      /* the reply ran to its natural length */
        SIM_STOP_MAX,      /* cut by maxTokens */
        SIM_STOP_SEQUENCE, /* cut before a stop sequence */
} sim_stop_t;

typedef struct sim_text_in {
        uint64_t hash;
        uint64_t input_tokens;
} sim_text_in_t;

typedef struct sim_text_out {
        char *text; /* malloc'd */
        uint64_t tokens;
        sim_stop_t stop;
} sim_text_out_t;

void sim_text_in_init(sim_text_in_t *in);
void sim_text_add(sim_text_in_t *in, const char *text, size_t len);
void sim_text_message(sim_text_in_t *in);

/* max_tokens 0: no cap. Returns -1 on allocation failure. */
int sim_text_generate(const sim_text_in_t *in, uint64_t natural,
                      uint64_t max_tokens, const char *const *stops,
                      size_t n_stops, sim_text_out_t *out);

#endif
