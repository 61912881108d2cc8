/*
 * JSON helpers shared over jansson.
 */
#ifndef TG_JSON_H
#define TG_JSON_H

#include <stddef.h>

/* 1 when the JSON text nests objects/arrays no deeper than max_depth.
 * jansson's own cap is 2048 levels; ours are far lower and checked before
 * parsing, so a hostile document costs one linear scan. */
int tg_json_depth_ok(const char *buf, size_t len, int max_depth);

/* Replaces every byte that is not part of a valid UTF-8 sequence with '?',
 * in place. Error texts quote user input cut at a byte count ("%.64s"), and
 * jansson refuses invalid UTF-8: this keeps such a text publishable. */
void tg_utf8_sanitize(char *s);

/* Length of the valid UTF-8 sequence at p, reading at most `left` bytes
 * (RFC 3629: no overlongs, no surrogates, at most U+10FFFF, the same
 * strings jansson accepts), or 0 when invalid. */
int tg_utf8_seq(const unsigned char *p, size_t left);

#endif
